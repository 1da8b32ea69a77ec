import forge from 'node-forge';
import { children, oid, oidOf, seq, set, type Asn1 } from './der';

/** X.501 distinguished names, keyed by the short names people and OpenSSL use. */

const OID_BY_NAME = {
  C: '2.5.4.6',
  ST: '2.5.4.8',
  L: '2.5.4.7',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  CN: '2.5.4.3',
  serialNumber: '2.5.4.5',
  emailAddress: '1.2.840.113549.1.9.1',
} as const;

/** The attributes our own certificates and CSRs carry. */
export type IssuedNameAttribute = 'O' | 'OU' | 'CN';

const NAME_BY_OID = new Map<string, string>(Object.entries(OID_BY_NAME).map(([name, dotted]) => [dotted, name]));

const { Class, Type } = forge.asn1;

/** One attribute per RDN, in the given order (most significant first), as UTF8String (RFC 5280). */
export function encodeName(attributes: ReadonlyArray<readonly [IssuedNameAttribute, string]>): Asn1 {
  return seq(
    attributes.map(([name, value]) => {
      const utf8 = forge.asn1.create(Class.UNIVERSAL, Type.UTF8, false, Buffer.from(value, 'utf8').toString('binary'));
      return set([seq([oid(OID_BY_NAME[name]), utf8])]);
    }),
  );
}

/** Flattens a Name; unknown attribute types are kept under their dotted OID, repeats keep the last. */
export function decodeName(name: Asn1 | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const rdn of children(name)) {
    for (const attribute of children(rdn, 1)) {
      const [type, value] = children(attribute, 2);
      const dotted = oidOf(type);
      result[NAME_BY_OID.get(dotted) ?? dotted] = decodeString(value);
    }
  }
  return result;
}

function decodeString(node: Asn1 | undefined): string {
  if (!node || typeof node.value !== 'string') throw new Error('unexpected name value');
  // forge already turns BMPString into a JS string; UTF8String arrives as raw bytes.
  if (node.type === Type.UTF8) return Buffer.from(node.value, 'binary').toString('utf8');
  return node.value;
}
