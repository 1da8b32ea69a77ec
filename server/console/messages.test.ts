import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '@formatjs/icu-messageformat-parser';
import { AMAPI_BINDING_STATES, AMAPI_NOTIFICATION_MODES, COMMAND_STATUSES, DEVICE_STATUSES, PLATFORMS, ROLE_NAMES } from '../infra/db/schema';
import { PERMISSIONS } from '../modules/access/principal';
import { COMMAND_KINDS } from '../modules/commands/commands.schemas';
import { VIEWS_DIR } from './console-paths';
import { CATALOGUES, formatters, negotiateLocale, translator } from './i18n';
import { NAV } from './navigation';
import { NOTICES } from './page';
import { ACTIONS } from './pages/device.routes';

const fr = CATALOGUES.fr;
const en = CATALOGUES.en;

function files(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name), ext) : e.name.endsWith(ext) ? [join(dir, e.name)] : []));
}
const templates = files(VIEWS_DIR, '.eta');
const sources = files(__dirname, '.ts').filter((f) => !f.endsWith('.test.ts'));

/** The names of the arguments a message uses ({n}, {school}...). */
function argumentsOf(message: string): string[] {
  const names = new Set<string>();
  const walk = (elements: ReturnType<typeof parse>) => {
    for (const e of elements) {
      if ('value' in e && typeof e.value === 'string' && e.type !== 0) names.add(e.value);
      if ('options' in e) for (const option of Object.values(e.options as Record<string, { value: ReturnType<typeof parse> }>)) walk(option.value);
    }
  };
  walk(parse(message));
  return [...names].sort();
}

describe('message catalogues', () => {
  it('have the same keys in French and English, all valid ICU messages, English using only what French is given', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(fr).sort());
    for (const key of Object.keys(fr)) {
      const french = argumentsOf(fr[key]!);
      expect({ key, extra: argumentsOf(en[key]!).filter((a) => !french.includes(a)) }).toEqual({ key, extra: [] });
    }
  });

  it('hold every key the templates and pages name literally', () => {
    const used = new Set<string>();
    for (const file of [...templates, ...sources]) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\bt\('([a-zA-Z0-9_.]+)'/g)) used.add(m[1]!);
      for (const m of readFileSync(file, 'utf8').matchAll(/'((?:nav|login|password|errors|form|enrollment|users|tokens|settings|dashboard|inventory|schools|session|oidc|sheet|audit|device|csv)\.[a-zA-Z0-9_.]+)'/g)) used.add(m[1]!);
    }
    // Prefixes completed from a value (tested below) and permission names are not messages.
    const messages = [...used].filter((k) => !k.endsWith('.') && !(PERMISSIONS as readonly string[]).includes(k));
    expect(messages.length).toBeGreaterThan(200);
    expect(messages.filter((k) => !(k in fr))).toEqual([]);
  });

  it('hold every key the templates build from a value', () => {
    const built = [
      ...PLATFORMS.map((p) => `platform.${p}`),
      ...COMMAND_KINDS.map((k) => `command.kinds.${k}`),
      ...COMMAND_STATUSES.map((s) => `command.statuses.${s}`),
      ...DEVICE_STATUSES.map((s) => `deviceStatus.${s}`),
      ...ROLE_NAMES.map((r) => `roles.${r}`),
      ...ACTIONS.flatMap((a) => ['title', 'button', 'explain', 'confirm'].map((part) => `action.${a}.${part}`)),
      'action.lock.messageHint',
      'action.lost_mode_on.messageHint',
      ...['active', 'expired', 'revoked', 'exhausted'].map((s) => `enrollment.states.${s}`),
      ...['maternelle', 'elementaire', 'primaire'].map((k) => `school.kinds.${k}`),
      ...['success', 'denied', 'failure'].map((o) => `audit.outcomes.${o}`),
      ...['user', 'api_token', 'device', 'system'].map((a) => `audit.actorTypes.${a}`),
      ...['active', 'disabled'].map((s) => `users.statuses.${s}`),
      ...['commune', 'school'].map((s) => `users.scopeTypes.${s}`),
      ...['device_owner', 'none'].map((m) => `device.modes.${m}`),
      ...['locate', 'lost_mode', 'policy'].map((s) => `device.sources.${s}`),
      ...['none', ...AMAPI_BINDING_STATES].map((s) => `amapi.states.${s}`),
      ...AMAPI_NOTIFICATION_MODES.map((m) => `amapi.modes.${m}`),
      ...NOTICES.map((n) => `notices.${n}`),
      ...NAV.map((item) => item.label),
    ];
    expect(built.filter((k) => !(k in fr))).toEqual([]);
  });

  it('leave no words in the templates: every string on screen comes from a catalogue', () => {
    // Proper names and code shown as such are not translated.
    const allowed = new Set(['Cartable', '– Cartable', 'C', 'English', 'Français', 'cart_ _…', 'curl -H "authorization: Bearer …"']);
    const found: string[] = [];
    for (const file of templates) {
      const text = readFileSync(file, 'utf8')
        .replace(/<%[\s\S]*?%>/g, ' ')
        .replace(/<!--[\s\S]*?-->/g, ' ')
        .replace(/<(svg|style|script)[\s\S]*?<\/\1>/g, ' ')
        .replace(/<[^>]*>/g, '\n');
      for (const chunk of text.split('\n').map((s) => s.trim())) {
        if (/\p{L}/u.test(chunk) && !allowed.has(chunk)) found.push(`${file.slice(VIEWS_DIR.length)}: ${chunk}`);
      }
    }
    expect(found).toEqual([]);
  });
});

describe('languages and formats', () => {
  it('chooses French unless English is asked for', () => {
    expect(negotiateLocale(undefined, undefined)).toBe('fr');
    expect(negotiateLocale(undefined, 'de-DE,de;q=0.9')).toBe('fr');
    expect(negotiateLocale(undefined, 'en-US,en;q=0.8')).toBe('en');
    expect(negotiateLocale('fr', 'en-US')).toBe('fr');
    expect(negotiateLocale('xx', 'en-GB')).toBe('en');
  });

  it('writes plurals, numbers and times as each language does, in the given time zone', () => {
    const normalise = (s: string) => s.replace(/[\u202f\u00a0]/g, ' ');
    expect(normalise(translator('fr')('inventory.caption', { n: 1500, page: 1, pages: 30 }))).toBe('1 500 tablettes – page 1 sur 30');
    expect(translator('fr')('schools.caption', { n: 1 })).toBe('1 école');
    expect(translator('en')('schools.caption', { n: 0 })).toBe('No schools');
    const instant = new Date('2026-07-01T08:00:00Z');
    expect(normalise(formatters('fr').dateTime(instant, 'Europe/Paris'))).toBe('1 juil. 2026, 10:00');
    expect(formatters('en').dateTime(instant, 'America/Cayenne')).toBe('1 Jul 2026, 05:00');
    expect(normalise(formatters('fr').bytes(51_200_000_000))).toBe('51,2 Go');
    expect(normalise(formatters('fr').percent(42))).toBe('42 %');
  });
});
