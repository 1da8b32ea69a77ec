import type { PlistValue } from './apple-plist';

/**
 * A reader of XML property lists, the form every iPad request takes. It reads the text in one pass
 * where the `plist` package built an xmldom document first (about an eighth of a check-in's CPU).
 * It expects well-formed XML (the caller validates it first) and gives the values `plist.parse`
 * gives; it is stricter about what a plist may hold: text between the elements of a dict or an
 * array, an unknown element or an unknown entity is refused. Throws on anything it refuses.
 */

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const NAME = /[A-Za-z_][\w.-]*/y;
const SPACE = /[ \t\r\n]*/y;
/** Deeper than any device message; a bound on the recursion. */
const MAX_DEPTH = 64;

function decodeText(raw: string): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(/&([^;&]*);/g, (_match, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(parseInt(entity.slice(1), 10));
    const value = ENTITIES[entity];
    if (value === undefined) throw new Error(`unknown entity &${entity};`);
    return value;
  });
}

class Reader {
  private at = 0;

  constructor(private readonly text: string) {}

  fail(what: string): never {
    throw new Error(`${what} at ${this.at}`);
  }

  /** Past white space, comments, processing instructions and a document type declaration. */
  skip(): void {
    for (;;) {
      SPACE.lastIndex = this.at;
      SPACE.exec(this.text);
      this.at = SPACE.lastIndex;
      if (this.text.startsWith('<!--', this.at)) this.past('-->');
      else if (this.text.startsWith('<?', this.at)) this.past('?>');
      else if (this.text.startsWith('<!DOCTYPE', this.at)) {
        // An internal subset ([…]) comes before the declaration's closing bracket.
        const subset = this.text.indexOf('[', this.at);
        if (subset >= 0 && subset < this.text.indexOf('>', this.at)) this.past(']');
        this.past('>');
      } else return;
    }
  }

  private past(end: string): void {
    const found = this.text.indexOf(end, this.at);
    if (found < 0) this.fail(`no ${end}`);
    this.at = found + end.length;
  }

  get done(): boolean {
    return this.at === this.text.length;
  }

  /** The start tag here: its name, and whether it closes itself (`<true/>`). Attributes are skipped. */
  open(): { name: string; empty: boolean } {
    if (this.text[this.at] !== '<') this.fail('an element was expected');
    NAME.lastIndex = this.at + 1;
    const name = NAME.exec(this.text)?.[0];
    if (!name) this.fail('an element name was expected');
    let quote: string | null = null;
    for (let i = NAME.lastIndex; i < this.text.length; i++) {
      const c = this.text[i];
      if (quote) {
        if (c === quote) quote = null;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '>') {
        this.at = i + 1;
        return { name, empty: this.text[i - 1] === '/' };
      }
    }
    return this.fail('an unterminated start tag');
  }

  /** Whether the end tag of `name` is here (consumed if so). */
  closes(name: string): boolean {
    const tag = `</${name}`;
    if (!this.text.startsWith(tag, this.at)) return false;
    SPACE.lastIndex = this.at + tag.length;
    SPACE.exec(this.text);
    if (this.text[SPACE.lastIndex] !== '>') return false;
    this.at = SPACE.lastIndex + 1;
    return true;
  }

  /** The text of a leaf element up to its end tag: entities decoded, CDATA kept as is, comments dropped. */
  content(name: string): string {
    let value = '';
    for (;;) {
      const next = this.text.indexOf('<', this.at);
      if (next < 0) this.fail(`no end tag for ${name}`);
      value += decodeText(this.text.slice(this.at, next));
      this.at = next;
      if (this.text.startsWith('<![CDATA[', next)) {
        const end = this.text.indexOf(']]>', next);
        if (end < 0) this.fail('an unterminated CDATA section');
        value += this.text.slice(next + 9, end);
        this.at = end + 3;
      } else if (this.text.startsWith('<!--', next)) this.past('-->');
      else if (this.closes(name)) return value;
      else this.fail(`an element inside ${name}`);
    }
  }

  value(depth: number): PlistValue | null {
    if (depth > MAX_DEPTH) this.fail('nesting too deep');
    const { name, empty } = this.open();
    const text = () => (empty ? '' : this.content(name));
    switch (name) {
      case 'dict':
        return empty ? {} : this.dict(depth);
      case 'array': {
        const items: PlistValue[] = [];
        if (empty) return items;
        for (this.skip(); !this.closes('array'); this.skip()) {
          const item = this.value(depth + 1);
          if (item !== null) items.push(item);
        }
        return items;
      }
      case 'string':
        return text();
      case 'integer':
      case 'real': {
        const value = text();
        if (value === '') this.fail(`an empty ${name}`);
        return name === 'integer' ? parseInt(value, 10) : parseFloat(value);
      }
      case 'data':
        return Buffer.from(text().replace(/\s+/g, ''), 'base64');
      case 'date': {
        const value = text();
        if (value === '') this.fail('an empty date');
        return new Date(value);
      }
      case 'true':
      case 'false':
      case 'null':
        if (!empty && text().trim() !== '') this.fail(`text inside ${name}`);
        return name === 'true' ? true : name === 'false' ? false : null;
      default:
        return this.fail(`unknown plist element ${name}`);
    }
  }

  /** Key, value, key, value…; a key left without a value gets the empty string, as with `plist`. */
  private dict(depth: number): PlistValue {
    const entries: Record<string, PlistValue> = {};
    for (this.skip(); !this.closes('dict'); this.skip()) {
      const { name, empty } = this.open();
      if (name !== 'key') this.fail('a key was expected in a dict');
      const key = empty ? '' : this.content('key');
      // The same refusal as `plist`'s (CVE-2022-22912).
      if (key === '__proto__') this.fail('a __proto__ key');
      this.skip();
      if (this.closes('dict')) {
        entries[key] = '';
        return entries;
      }
      if (this.text.startsWith('<key', this.at)) this.fail(`no value for the key ${key}`);
      // <null/> is kept as null, as `plist` keeps it.
      entries[key] = this.value(depth + 1) as PlistValue;
    }
    return entries;
  }
}

/** The value a `<plist>` document holds: its single element, or the list of its elements. */
export function readPlist(text: string): PlistValue | null {
  const reader = new Reader(text);
  reader.skip();
  const { name, empty } = reader.open();
  if (name !== 'plist') reader.fail('the root element is not plist');
  const values: (PlistValue | null)[] = [];
  if (!empty) for (reader.skip(); !reader.closes('plist'); reader.skip()) values.push(reader.value(1));
  reader.skip();
  if (!reader.done) reader.fail('content after the plist');
  return values.length === 1 ? (values[0] ?? null) : (values as PlistValue[]);
}
