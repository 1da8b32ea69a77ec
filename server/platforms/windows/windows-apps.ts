import { buildXml, el } from './xml';
import type { SyncCommand } from './windows-commands';

export class AppRenderError extends Error {}

const MSI = './Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI';
const MODERN = './Device/Vendor/MSFT/EnterpriseModernAppManagement';

/** The ProductCode in a LocURI: braces percent-encoded, as Windows' own captures write them. */
const msiNode = (productCode: string) => `${MSI}/${encodeURIComponent(productCode.toUpperCase())}`;

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/**
 * install_app of a catalog MSI or MSIX as the OMA-DM commands that carry it, in order.
 * - MSI (EnterpriseDesktopAppManagement): `Add` of the product's `DownloadInstall` node, then
 *   `Exec` of it with an `MsiInstallJob`: the signed download URL, the file's SHA-256 that Windows
 *   checks before installing, a silent command line.
 * - MSIX (EnterpriseModernAppManagement): `Add` of the package family's `AppInstallation` node,
 *   then `Exec` of its `HostedInstall` with the package URL. Windows checks the package's own
 *   signature, not our SHA-256: the certificate that signed it must be trusted by the tablet.
 * A success is the tablet's acceptance of the `Exec`; the completion alert it sends later (1224,
 * 1226) is kept raw, not read.
 */
export function installAppCommands(p: Record<string, unknown>): SyncCommand[] {
  const identifier = text(p.identifier);
  const url = text(p.url);
  if (!identifier || !url) throw new AppRenderError('install_app lacks the package identifier or its download URL');
  if (p.appKind === 'msi') {
    const sha256 = text(p.sha256);
    if (!sha256) throw new AppRenderError('an MSI install needs the file SHA-256');
    const node = `${msiNode(identifier)}/DownloadInstall`;
    const job = buildXml([
      el('MsiInstallJob', [
        el('Product', [
          el('Download', [el('ContentURLList', [el('ContentURL', url)])]),
          el('Validation', [el('FileHash', sha256.toUpperCase())]),
          el('Enforcement', [el('CommandLine', '/quiet /norestart'), el('TimeOut', '10'), el('RetryCount', '1'), el('RetryInterval', '5')]),
        ], { Version: text(p.version) ?? '1.0.0' }),
      ], { id: identifier.toUpperCase() }),
    ]);
    return [
      { verb: 'Add', items: [{ locUri: node }] },
      { verb: 'Exec', items: [{ locUri: node, format: 'xml', data: job }] },
    ];
  }
  if (p.appKind === 'msix') {
    const node = `${MODERN}/AppInstallation/${encodeURIComponent(identifier)}`;
    return [
      { verb: 'Add', items: [{ locUri: node }] },
      { verb: 'Exec', items: [{ locUri: `${node}/HostedInstall`, format: 'xml', data: buildXml([el('Application', [], { PackageUri: url })]) }] },
    ];
  }
  throw new AppRenderError(`Windows tablets install MSI and MSIX packages only, not ${String(p.appKind ?? 'this package')}`);
}

/** remove_app of a catalog MSI (by ProductCode) or MSIX (by package family name). */
export function removeAppCommands(p: Record<string, unknown>): SyncCommand[] {
  const identifier = text(p.identifier);
  if (p.appKind === 'msi' && identifier) return [{ verb: 'Delete', items: [{ locUri: msiNode(identifier) }] }];
  if (p.appKind === 'msix' && identifier) return [{ verb: 'Delete', items: [{ locUri: `${MODERN}/AppManagement/nonStore/${encodeURIComponent(identifier)}` }] }];
  throw new AppRenderError('Windows tablets remove catalog MSI and MSIX apps only: name the app by its catalog id (appId)');
}
