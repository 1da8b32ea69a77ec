import plist from 'plist';
import { parsePlistDict } from './apple-plist';
import { readPlist } from './plist-reader';

const HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n';
const doc = (inner: string) => `${HEADER}<plist version="1.0">${inner}</plist>`;

/** What iPads send, as the `plist` package writes it. */
const messages: Record<string, unknown>[] = [
  { UDID: '0000-ABCD', Status: 'Idle' },
  { MessageType: 'TokenUpdate', Topic: 'com.apple.mgmt.External.x', UDID: 'U', Token: Buffer.from('0123456789abcdef0123456789abcdef'), PushMagic: 'magic', UnlockToken: Buffer.alloc(200, 7), AwaitingConfiguration: false },
  {
    UDID: 'U',
    CommandUUID: 'c0ffee00-0000-4000-8000-000000000000',
    Status: 'Acknowledged',
    QueryResponses: { DeviceName: 'iPad de la classe <CM1> & "co"', DeviceCapacity: 64, AvailableDeviceCapacity: 40.5, BatteryLevel: 0.82, IsSupervised: true, OSVersion: '18.1' },
  },
  { UDID: 'U', Status: 'Acknowledged', InstalledApplicationList: [{ Identifier: 'com.apple.mobilesafari', Name: 'Safari', ShortVersion: '18.1' }, { Identifier: 'fr.ecole.lecture', Name: 'Lecture CP é ✓', ShortVersion: '2.3.0' }], Empty: [], Nested: { a: [[1, 2], { b: {} }] } },
  { UDID: 'U', Status: 'Error', ErrorChain: [{ ErrorCode: 12021, ErrorDomain: 'MCMDMErrorDomain', LocalizedDescription: 'Commande inconnue', USEnglishDescription: '' }], When: new Date('2026-12-02T10:00:00Z'), Negative: -3 },
];

describe('the plist reader', () => {
  test.each(messages.map((m, i) => [i, m] as const))('reads message %i as the plist package does', (_i, message) => {
    const xml = plist.build(message as plist.PlistObject);
    expect(readPlist(xml)).toEqual(plist.parse(xml));
    expect(readPlist(xml)).toEqual(message);
  });

  test.each([
    ['entities and character references', '<dict><key>a&amp;b</key><string>&lt;x&gt; &quot;y&quot; &apos;z&apos; &#233;&#x2713;</string></dict>'],
    ['CDATA and comments', '<!-- a comment --><dict><!-- between --><key>k</key><string>a<![CDATA[<b>&amp;]]>c</string></dict>'],
    ['empty elements', '<dict><key>s</key><string/><key>d</key><dict/><key>a</key><array/><key>t</key><true/><key>f</key><false></false><key>x</key><data/></dict>'],
    ['a key without a value', '<dict><key>alone</key></dict>'],
    ['white space in numbers and data', '<dict><key>i</key><integer> 42 </integer><key>r</key><real>1.5e3</real><key>b</key><data>\n  AAEC\n  AwQ=\n</data></dict>'],
    ['several top-level values', '<string>a</string><integer>1</integer>'],
    ['an empty plist', ''],
  ])('%s', (_name, inner) => {
    const xml = doc(inner);
    expect(readPlist(xml)).toEqual(plist.parse(xml));
  });

  test.each([
    ['an unknown element', '<dict><key>k</key><script>x</script></dict>'],
    ['two keys in a row', '<dict><key>a</key><key>b</key><string>c</string></dict>'],
    ['a value where a key is due', '<dict><string>a</string></dict>'],
    ['a __proto__ key', '<dict><key>__proto__</key><dict><key>polluted</key><true/></dict></dict>'],
    ['text between the elements of a dict', '<dict>stray<key>a</key><string>b</string></dict>'],
    ['an element inside a string', '<dict><key>a</key><string>x<b>y</b></string></dict>'],
    ['an unknown entity', '<dict><key>a</key><string>&ent;</string></dict>'],
    ['an empty integer', '<dict><key>a</key><integer></integer></dict>'],
    ['nesting without end', `<dict><key>a</key>${'<array>'.repeat(100)}${'</array>'.repeat(100)}</dict>`],
  ])('refuses %s', (_name, inner) => {
    expect(() => readPlist(doc(inner))).toThrow();
  });

  test('a document that is not a plist, or has something after it, is refused', () => {
    expect(() => readPlist(`${HEADER}<dict></dict>`)).toThrow();
    expect(() => readPlist(`${doc('<dict/>')}<plist/>`)).toThrow();
  });

  test('a request body is a dict, or nothing', () => {
    expect(parsePlistDict(Buffer.from(doc('<dict><key>Status</key><string>Idle</string></dict>')))).toEqual({ Status: 'Idle' });
    expect(parsePlistDict(Buffer.from(doc('<array><string>Idle</string></array>')))).toBeNull();
    expect(parsePlistDict(Buffer.from(doc('<dict><key>a</key>')))).toBeNull();
    expect(parsePlistDict(Buffer.from('bplist00'))).toBeNull();
  });
});
