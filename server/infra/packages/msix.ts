import { createHash } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { refusePackage, type PackageFacts } from './package-facts';
import type { ZipArchive } from './zip-archive';

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * Windows's publisher id: the SHA-256 of the Publisher string in UTF-16LE, its first 8 bytes
 * (64 bits, padded with one zero bit to 65) written as 13 characters of Crockford's base 32.
 */
export function publisherId(publisher: string): string {
  const bits = [...createHash('sha256').update(Buffer.from(publisher, 'utf16le')).digest().subarray(0, 8)].map((b) => b.toString(2).padStart(8, '0')).join('') + '0';
  let id = '';
  for (let i = 0; i < bits.length; i += 5) id += CROCKFORD[parseInt(bits.slice(i, i + 5), 2)];
  return id;
}

/** An MSIX (or APPX) package: the Identity of its AppxManifest.xml, parsed with fast-xml-parser. */
export async function readMsix(zip: ZipArchive): Promise<PackageFacts> {
  const xml = (await zip.read('AppxManifest.xml')).toString('utf8');
  let doc: Record<string, unknown>;
  try {
    doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', removeNSPrefix: true, processEntities: false }).parse(xml, true) as Record<string, unknown>;
  } catch (e) {
    return refusePackage('package_corrupt', `AppxManifest.xml is not well-formed XML: ${(e as Error).message}`);
  }
  const pkg = doc.Package as Record<string, unknown> | undefined;
  const identity = pkg?.Identity as Record<string, unknown> | undefined;
  const name = identity?.Name;
  const publisher = identity?.Publisher;
  const version = identity?.Version;
  if (typeof name !== 'string' || typeof publisher !== 'string' || typeof version !== 'string' || !/^\d+\.\d+\.\d+\.\d+$/.test(version)) {
    refusePackage('package_corrupt', 'AppxManifest.xml has no complete Identity (Name, Publisher, Version a.b.c.d)');
  }
  const properties = (pkg?.Properties ?? {}) as Record<string, unknown>;
  const displayName = typeof properties.DisplayName === 'string' && !properties.DisplayName.startsWith('ms-resource:') ? properties.DisplayName : name;
  const familyName = `${name}_${publisherId(publisher)}`;
  return {
    platform: 'windows',
    kind: 'msix',
    identifier: familyName,
    name: displayName,
    version,
    versionCode: null,
    signingCertSha256: null,
    metadata: {
      packageName: name,
      publisher,
      packageFamilyName: familyName,
      processorArchitecture: typeof identity?.ProcessorArchitecture === 'string' ? identity.ProcessorArchitecture : null,
      publisherDisplayName: typeof properties.PublisherDisplayName === 'string' ? properties.PublisherDisplayName : null,
      signed: zip.has('AppxSignature.p7x'),
    },
  };
}
