import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import forge from 'node-forge';
import { refusePackage } from './package-facts';
import type { ZipArchive } from './zip-archive';

/**
 * The certificate an APK is signed with, as Android compares it: the SHA-256 of its DER.
 *
 * APK Signature Scheme v3 (then v2) first: the APK Signing Block sits right before the zip's
 * central directory, found from the end-of-central-directory record, so only a few kilobytes
 * are read. Failing those, the v1 (JAR) signature: the PKCS#7 block in META-INF/*.RSA|DSA|EC.
 * Signatures are not verified here: the tablet verifies them at install and refuses a bad one;
 * Cartable only needs to know who signed, to refuse a version signed by someone else.
 */
export interface ApkSigner {
  certSha256: string;
  scheme: 'v3' | 'v2' | 'v1';
}

const SIG_BLOCK_MAGIC = Buffer.from('APK Sig Block 42', 'latin1');
const V2_ID = 0x7109871a;
const V3_ID = 0xf05368c0;
const EOCD_SIGNATURE = 0x06054b50;
/** The EOCD record (22 bytes) plus the longest zip comment. */
const EOCD_SEARCH = 22 + 0xffff;
const MAX_SIG_BLOCK = 16 * 1024 * 1024;

export async function apkSigner(path: string, zip: ZipArchive): Promise<ApkSigner | null> {
  const fromBlock = await signingBlockCertificate(path);
  if (fromBlock) return fromBlock;
  const v1 = zip.names().find((n) => /^META-INF\/[^/]+\.(RSA|DSA|EC)$/i.test(n));
  if (!v1) return null;
  return { certSha256: sha256(firstCertificateOfPkcs7(await zip.read(v1), v1)), scheme: 'v1' };
}

async function signingBlockCertificate(path: string): Promise<ApkSigner | null> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const tailLength = Math.min(size, EOCD_SEARCH);
    const tail = await readAt(file, size - tailLength, tailLength);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) return null;
    const centralDirectory = tail.readUInt32LE(eocd + 16);
    if (centralDirectory < 32 || centralDirectory > size) return null;
    const footer = await readAt(file, centralDirectory - 24, 24);
    if (!footer.subarray(8).equals(SIG_BLOCK_MAGIC)) return null;
    const blockSize = Number(footer.readBigUInt64LE(0));
    const start = centralDirectory - blockSize - 8;
    if (blockSize < 24 || blockSize > MAX_SIG_BLOCK || start < 0) refusePackage('package_corrupt', 'The APK Signing Block has an impossible size');
    const block = await readAt(file, start, blockSize + 8);
    if (Number(block.readBigUInt64LE(0)) !== blockSize) refusePackage('package_corrupt', 'The APK Signing Block sizes disagree');
    const pairs = pairsOf(block.subarray(8, block.length - 24));
    for (const [id, scheme] of [[V3_ID, 'v3'], [V2_ID, 'v2']] as const) {
      const value = pairs.get(id);
      if (value) return { certSha256: sha256(firstCertificateOfSigner(value, scheme)), scheme };
    }
    return null;
  } finally {
    await file.close();
  }
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await file.read(buffer, 0, length, position);
  if (bytesRead !== length) refusePackage('package_corrupt', 'The file ends before its own structures do (truncated?)');
  return buffer;
}

/** The ID-value pairs of the signing block: uint64 length, uint32 id, value. */
function pairsOf(body: Buffer): Map<number, Buffer> {
  const pairs = new Map<number, Buffer>();
  let at = 0;
  while (at < body.length) {
    if (at + 12 > body.length) refusePackage('package_corrupt', 'The APK Signing Block is malformed');
    const length = Number(body.readBigUInt64LE(at));
    if (length < 4 || at + 8 + length > body.length) refusePackage('package_corrupt', 'The APK Signing Block is malformed');
    pairs.set(body.readUInt32LE(at + 8), body.subarray(at + 12, at + 8 + length));
    at += 8 + length;
  }
  return pairs;
}

/** Reads a uint32-length-prefixed field. */
class Fields {
  private at = 0;
  constructor(private readonly buffer: Buffer, private readonly what: string) {}
  next(): Buffer {
    if (this.at + 4 > this.buffer.length) refusePackage('package_corrupt', `The ${this.what} is malformed`);
    const length = this.buffer.readUInt32LE(this.at);
    const end = this.at + 4 + length;
    if (end > this.buffer.length) refusePackage('package_corrupt', `The ${this.what} is malformed`);
    const field = this.buffer.subarray(this.at + 4, end);
    this.at = end;
    return field;
  }
}

/** signers → first signer → signed data → (digests, certificates) → first certificate. */
function firstCertificateOfSigner(value: Buffer, scheme: string): Buffer {
  const what = `APK Signature Scheme ${scheme} block`;
  const signer = new Fields(new Fields(value, what).next(), what).next();
  const signedData = new Fields(signer, what).next();
  const fields = new Fields(signedData, what);
  fields.next(); // digests
  const certificate = new Fields(fields.next(), what).next();
  if (certificate.length === 0) refusePackage('package_corrupt', `The ${what} names no certificate`);
  return certificate;
}

/**
 * ContentInfo → SignedData → certificates [0]: the first certificate, as DER. Walked with
 * node-forge's ASN.1 reader rather than its X.509 parser, which refuses EC keys.
 */
function firstCertificateOfPkcs7(der: Buffer, name: string): Buffer {
  try {
    const contentInfo = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
    const signedData = ((contentInfo.value as forge.asn1.Asn1[])[1]?.value as forge.asn1.Asn1[])[0]!;
    const certificates = (signedData.value as forge.asn1.Asn1[]).find((n) => n.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && n.type === 0);
    const first = (certificates?.value as forge.asn1.Asn1[] | undefined)?.[0];
    if (!first) throw new Error('no certificate');
    return Buffer.from(forge.asn1.toDer(first).getBytes(), 'binary');
  } catch (e) {
    return refusePackage('package_corrupt', `${name} is not a PKCS#7 signature block with a certificate (${(e as Error).message})`);
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
