import { constants, createCipheriv, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { contextTagged, implicitPrimitive, integer, nul, octets, oid, seq, set, toDer, utf8 } from '../../../infra/pki/der';
import { openEnvelope, ScepMessageError } from './pki-message';

/** EnvelopedData as SCEP clients make them, with each content cipher they may choose. */

const ca = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const decryptWith = (key: KeyObject) => (data: Buffer) => privateDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, data);

function encrypt(cipher: string, key: Buffer, iv: Buffer, content: Buffer): Buffer {
  if (cipher !== 'des-cbc') {
    const c = createCipheriv(cipher, key, iv);
    return Buffer.concat([c.update(content), c.final()]);
  }
  const c = forge.cipher.createCipher('DES-CBC', key.toString('binary'));
  c.start({ iv: iv.toString('binary') });
  c.update(forge.util.createBuffer(content.toString('binary')));
  c.finish();
  return Buffer.from(c.output.getBytes(), 'binary');
}

function envelope(cipherOid: string, cipher: string, keyBytes: number, ivBytes: number, content: Buffer): Buffer {
  const key = randomBytes(keyBytes);
  const iv = randomBytes(ivBytes);
  const encryptedKey = publicEncrypt({ key: ca.publicKey, padding: constants.RSA_PKCS1_PADDING }, key);
  // The recipient's issuer and serial do not matter to us: we try our key on every RSA recipient.
  const recipient = seq([integer(Buffer.from([0])), seq([seq([set([seq([oid('2.5.4.3'), utf8('CA')])])]), integer(Buffer.from([1]))]), seq([oid('1.2.840.113549.1.1.1'), nul()]), octets(encryptedKey)]);
  const enveloped = seq([integer(Buffer.from([0])), set([recipient]), seq([oid('1.2.840.113549.1.7.1'), seq([oid(cipherOid), octets(iv)]), implicitPrimitive(0, encrypt(cipher, key, iv, content))])]);
  return toDer(seq([oid('1.2.840.113549.1.7.3'), contextTagged(0, [enveloped])]));
}

const CIPHERS = [
  ['DES-CBC (Go clients)', '1.3.14.3.2.7', 'des-cbc', 8, 8],
  ['3DES-CBC', '1.2.840.113549.3.7', 'des-ede3-cbc', 24, 8],
  ['AES-128-CBC', '2.16.840.1.101.3.4.1.2', 'aes-128-cbc', 16, 16],
  ['AES-256-CBC', '2.16.840.1.101.3.4.1.42', 'aes-256-cbc', 32, 16],
] as const;

describe('openEnvelope', () => {
  const csr = randomBytes(700);

  it.each(CIPHERS)('opens %s with the CA key', (_name, cipherOid, cipher, keyBytes, ivBytes) => {
    const opened = openEnvelope(envelope(cipherOid, cipher, keyBytes, ivBytes, csr), decryptWith(ca.privateKey));
    expect(opened.content.equals(csr)).toBe(true);
    expect(opened.contentEncryptionOid).toBe(cipherOid);
  });

  it('never yields the content of an envelope made for another key', () => {
    // Implicit rejection: the wrong key unwraps to random bytes, whose decryption fails its
    // padding check, except about once in 256 when it yields garbage (which no CSR parser takes).
    let content: Buffer | undefined;
    try {
      content = openEnvelope(envelope(CIPHERS[2][1], 'aes-128-cbc', 16, 16, csr), decryptWith(other.privateKey)).content;
    } catch (error) {
      expect(error).toBeInstanceOf(ScepMessageError);
    }
    expect(content?.equals(csr) ?? false).toBe(false);
  });

  it('refuses an unknown cipher and a structure that is not an EnvelopedData', () => {
    expect(() => openEnvelope(envelope('1.2.840.113549.3.2', 'aes-128-cbc', 16, 16, csr), decryptWith(ca.privateKey))).toThrow(/unsupported content encryption/);
    expect(() => openEnvelope(Buffer.from('3003020100', 'hex'), decryptWith(ca.privateKey))).toThrow(ScepMessageError);
  });
});
