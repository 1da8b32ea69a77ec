import { berChildren, berOctets, berOid, readBer } from './ber';

const bytes = (hex: string) => Buffer.from(hex.replace(/\s/g, ''), 'hex');

describe('BER reader', () => {
  test('definite and indefinite lengths give the same children', () => {
    const definite = readBer(bytes('30 06 02 01 05 04 01 aa'));
    const indefinite = readBer(bytes('30 80 02 01 05 04 01 aa 00 00'));
    expect(indefinite.end).toBe(10);
    expect(berChildren(indefinite).map((c) => c.tag)).toEqual(berChildren(definite).map((c) => c.tag));
  });

  test('a constructed OCTET STRING is the concatenation of its segments', () => {
    expect(berOctets(readBer(bytes('24 80 04 02 01 02 04 01 03 00 00')))).toEqual(bytes('010203'));
  });

  test('object identifiers read in dotted form', () => {
    expect(berOid(readBer(bytes('06 09 2a 86 48 86 f7 0d 01 07 02')))).toBe('1.2.840.113549.1.7.2');
    expect(berOid(readBer(bytes('06 09 60 86 48 01 65 03 04 02 01')))).toBe('2.16.840.1.101.3.4.2.1');
    expect(() => berOid(readBer(bytes('06 01 86')))).toThrow();
  });

  test.each([
    ['a length beyond the data', '30 05 02 01 05'],
    ['an indefinite primitive', '04 80 00 00'],
    ['an indefinite element without end', '30 80 02 01 05'],
    ['a length of more than 3 octets', '04 84 00 00 00 01 aa'],
    ['no length at all', '30'],
  ])('refuses %s', (_name, hex) => {
    expect(() => readBer(bytes(hex))).toThrow();
  });

  test('nesting is bounded', () => {
    const deep = Buffer.concat([Buffer.alloc(200, 0x30).map((_, i) => (i % 2 ? 0x80 : 0x30)), Buffer.alloc(200, 0)]);
    expect(() => readBer(deep)).toThrow('nested too deeply');
  });
});
