import { open } from 'node:fs/promises';
import { readApk } from './apk';
import { readMsi } from './msi';
import { readMsix } from './msix';
import { refusePackage, type PackageFacts } from './package-facts';
import { openZip } from './zip-archive';

const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const CFB_MAGIC = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);

/** What an uploaded file is, told from its content (never from its name or content type), and what it says of itself. */
export async function readPackage(path: string): Promise<PackageFacts> {
  const head = Buffer.alloc(8);
  const file = await open(path, 'r');
  try {
    await file.read(head, 0, 8, 0);
  } finally {
    await file.close();
  }
  if (head.equals(CFB_MAGIC)) return readMsi(path);
  if (!head.subarray(0, 4).equals(ZIP_MAGIC)) refusePackage('package_unknown', 'The file is neither an APK, an MSIX nor an MSI');
  const zip = await openZip(path);
  try {
    if (zip.has('AndroidManifest.xml')) return await readApk(path, zip);
    if (zip.has('AppxManifest.xml')) return await readMsix(zip);
    if (zip.has('AppxMetadata/AppxBundleManifest.xml')) refusePackage('package_unsupported', 'MSIX bundles are not supported yet: upload the package for one architecture');
    return refusePackage('package_unknown', 'The zip archive is neither an APK (no AndroidManifest.xml) nor an MSIX (no AppxManifest.xml)');
  } finally {
    zip.close();
  }
}
