import ApkReader from '@devicefarmer/adbkit-apkreader';
import { apkSigner } from './apk-signing';
import { refusePackage, type PackageFacts } from './package-facts';
import type { ZipArchive } from './zip-archive';

const PACKAGE_NAME = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$/;

/** An Android package: its binary AndroidManifest.xml (read with adbkit-apkreader) and its signer. */
export async function readApk(path: string, zip: ZipArchive): Promise<PackageFacts> {
  // Sized before the library inflates it whole.
  await zip.read('AndroidManifest.xml');
  const manifest = await ApkReader.open(path)
    .then((reader) => reader.readManifest())
    .catch((e: Error) => refusePackage('package_corrupt', `AndroidManifest.xml cannot be parsed: ${e.message}`));
  const packageName = manifest.package;
  const versionCode = manifest.versionCode;
  if (typeof packageName !== 'string' || !PACKAGE_NAME.test(packageName)) refusePackage('package_corrupt', 'AndroidManifest.xml has no valid package name');
  if (typeof versionCode !== 'number' || !Number.isInteger(versionCode) || versionCode < 0) refusePackage('package_corrupt', 'AndroidManifest.xml has no versionCode');
  const signer = await apkSigner(path, zip);
  if (!signer) refusePackage('apk_unsigned', 'The APK is not signed (no APK Signature Scheme v2/v3 block, no META-INF signature): tablets refuse to install it');
  const versionName = typeof manifest.versionName === 'string' ? manifest.versionName : null;
  const label = manifest.application?.label;
  return {
    platform: 'android',
    kind: 'apk',
    identifier: packageName,
    // A label that is a resource reference cannot be resolved without the resource table.
    name: typeof label === 'string' && !label.startsWith('resourceId:') && !label.startsWith('@') ? label : packageName,
    version: String(versionCode),
    versionCode,
    signingCertSha256: signer.certSha256,
    metadata: {
      versionName,
      signatureScheme: signer.scheme,
      minSdkVersion: numberOrNull(manifest.usesSdk?.minSdkVersion),
      targetSdkVersion: numberOrNull(manifest.usesSdk?.targetSdkVersion),
    },
  };
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}
