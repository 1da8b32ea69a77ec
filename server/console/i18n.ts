import { IntlMessageFormat } from 'intl-messageformat';
import Negotiator from 'negotiator';
import en from './messages/en.json';
import fr from './messages/fr.json';

export const LOCALES = ['fr', 'en'] as const;
export type Locale = (typeof LOCALES)[number];
/** Every key of the French catalogue, which is the reference; the English one has the same keys (tested). */
export type MessageKey = keyof typeof fr;
export type Translate = (key: MessageKey, values?: Record<string, unknown>) => string;

/** The visitor's choice, remembered across visits; without it, the browser's Accept-Language decides. */
export const LANGUAGE_COOKIE = 'cartable_lang';
/** Times are shown in a school's time zone; where no school is in view, in the authority's. */
export const DEFAULT_TIME_ZONE = 'Europe/Paris';

export const CATALOGUES: Record<Locale, Record<string, string>> = { fr, en };
const INTL_TAGS: Record<Locale, string> = { fr: 'fr-FR', en: 'en-GB' };

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

export function negotiateLocale(chosen: string | undefined, acceptLanguage: string | undefined): Locale {
  if (isLocale(chosen)) return chosen;
  const [best] = new Negotiator({ headers: { 'accept-language': acceptLanguage ?? '' } }).languages([...LOCALES]);
  return isLocale(best) ? best : 'fr';
}

/** One value per language, built on first use: what it holds is costly to build and carries no request state. */
function perLocale<T>(build: (locale: Locale) => T): (locale: Locale) => T {
  const built = new Map<Locale, T>();
  return (locale) => {
    if (!built.has(locale)) built.set(locale, build(locale));
    return built.get(locale)!;
  };
}

/**
 * ICU MessageFormat messages (plurals, numbers, selects), compiled once per language and key; a
 * message without arguments is formatted once too (a page of 500 tablets asks for the same
 * column labels and states thousands of times).
 */
export const translator = perLocale((locale): Translate => {
  const compiled = new Map<string, IntlMessageFormat>();
  const plain = new Map<string, string>();
  return (key, values) => {
    if (!values && plain.has(key)) return plain.get(key)!;
    let message = compiled.get(key);
    if (!message) {
      const source = CATALOGUES[locale][key] ?? CATALOGUES.fr[key] ?? key;
      message = new IntlMessageFormat(source, INTL_TAGS[locale]);
      compiled.set(key, message);
    }
    const text = String(message.format(values));
    if (!values) plain.set(key, text);
    return text;
  };
});

const BYTE_UNITS = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte'] as const;

/** Numbers, sizes and dates as the reader's language writes them, times in the given zone. */
function createFormatters(locale: Locale) {
  const tag = INTL_TAGS[locale];
  const number = new Intl.NumberFormat(tag);
  const percent = new Intl.NumberFormat(tag, { style: 'percent', maximumFractionDigits: 0 });
  // Five decimals of a degree is about a metre: as precise as a tablet's fix.
  const coordinate = new Intl.NumberFormat(tag, { maximumFractionDigits: 5 });
  const byteFormats = BYTE_UNITS.map((unit) => new Intl.NumberFormat(tag, { style: 'unit', unit, unitDisplay: 'short', maximumFractionDigits: 1 }));
  const dateTimes = new Map<string, Intl.DateTimeFormat>();
  const dateTimeIn = (timeZone: string, style: 'dateTime' | 'date') => {
    const id = `${style}\u0000${timeZone}`;
    let format = dateTimes.get(id);
    if (!format) {
      format = new Intl.DateTimeFormat(tag, style === 'date' ? { dateStyle: 'medium', timeZone } : { dateStyle: 'medium', timeStyle: 'short', timeZone });
      dateTimes.set(id, format);
    }
    return format;
  };
  const relative = new Intl.RelativeTimeFormat(tag, { numeric: 'auto' });
  const toDate = (value: Date | string) => (typeof value === 'string' ? new Date(value) : value);
  return {
    locale,
    tag,
    number: (n: number) => number.format(n),
    percent: (n: number) => percent.format(n / 100),
    coordinate: (n: number) => coordinate.format(n),
    bytes(n: number): string {
      let unit = 0;
      let value = n;
      while (value >= 1000 && unit < BYTE_UNITS.length - 1) {
        value /= 1000;
        unit++;
      }
      return byteFormats[unit]!.format(value);
    },
    dateTime: (value: Date | string, timeZone = DEFAULT_TIME_ZONE) => dateTimeIn(timeZone, 'dateTime').format(toDate(value)),
    date: (value: Date | string, timeZone = DEFAULT_TIME_ZONE) => dateTimeIn(timeZone, 'date').format(toDate(value)),
    /** "il y a 3 minutes", "dans 2 jours": for recency, beside the exact time. */
    ago(value: Date | string, now = Date.now()): string {
      const seconds = Math.round((toDate(value).getTime() - now) / 1000);
      const abs = Math.abs(seconds);
      if (abs < 60) return relative.format(seconds, 'second');
      if (abs < 3600) return relative.format(Math.round(seconds / 60), 'minute');
      if (abs < 86400) return relative.format(Math.round(seconds / 3600), 'hour');
      return relative.format(Math.round(seconds / 86400), 'day');
    },
    /** For `<time datetime>` and `<input type=date>`: a calendar day in the given zone. */
    isoDay: (value: Date | string, timeZone = DEFAULT_TIME_ZONE) => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(toDate(value)),
  };
}
export type Formatters = ReturnType<typeof createFormatters>;
export const formatters = perLocale(createFormatters);
