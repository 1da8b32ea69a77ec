import type { NeutralCommand } from '../../domain/commands';
import type { CmsSigner } from '../../infra/pki';
import { checkProfile } from '../../modules/profiles/profile-validation';
import { compileMobileconfig, DEFAULT_IDENTIFIER_PREFIX, signMobileconfig } from './profiles/mobileconfig.compiler';
import type { PlistDict } from './mdm/apple-plist';

/** Commands an iPad takes only when supervised (Apple's device-management schema, `supervised: true`). */
export const SUPERVISED = 'supervised';

/**
 * The neutral kinds an iPad can take, with the capability it needs: null for any enrolled iPad,
 * `supervised` for commands Apple reserves to supervised iPads. A kind absent here (`message`)
 * has no Apple equivalent.
 */
export const APPLE_KINDS: Readonly<Record<string, string | null>> = {
  lock: null,
  wipe: null,
  refresh_inventory: null,
  refresh_apps: null,
  install_profile: null,
  remove_profile: null,
  profile_list: null,
  install_app: null,
  remove_app: null,
  reboot: SUPERVISED,
  shutdown: SUPERVISED,
  locate: SUPERVISED,
  lost_mode_on: SUPERVISED,
  lost_mode_off: SUPERVISED,
  lost_mode_sound: SUPERVISED,
};

/** What DeviceInformation asks: the inventory columns and the facts shown on the device page. */
export const DEVICE_INFORMATION_QUERIES = [
  'UDID',
  'DeviceName',
  'OSVersion',
  'BuildVersion',
  'ModelName',
  'Model',
  'ProductName',
  'SerialNumber',
  'DeviceCapacity',
  'AvailableDeviceCapacity',
  'BatteryLevel',
  'IsSupervised',
  'IsActivationLockEnabled',
  'IsMDMLostModeEnabled',
  'WiFiMAC',
  'BluetoothMAC',
];

export class RenderError extends Error {}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/**
 * InstallApplication of a catalog app: an App Store app by its store id, without Apps and Books
 * licences (`PurchaseMethod` 0: a free app, installed with the Apple Account signed in on the
 * iPad), or an in-house app by its manifest URL. Managed, and removed with the MDM profile.
 */
function installApplication(p: Record<string, unknown>): PlistDict {
  const managed = { ManagementFlags: 1, InstallAsManaged: true };
  if (p.appKind === 'app_store' && typeof p.storeId === 'number') return { RequestType: 'InstallApplication', iTunesStoreID: p.storeId, Options: { PurchaseMethod: 0 }, ...managed };
  if (p.appKind === 'in_house' && text(p.manifestUrl)) return { RequestType: 'InstallApplication', ManifestURL: text(p.manifestUrl)!, ...managed };
  throw new RenderError(`iPads install App Store and in-house apps only, not ${String(p.appKind ?? 'this package')}`);
}

/** The `Command` dict of a neutral command (RequestType and parameters). */
export async function appleCommand(command: NeutralCommand, profileSigner: () => Promise<CmsSigner>): Promise<PlistDict> {
  const p = command.params;
  switch (command.kind) {
    case 'lock': {
      const c: PlistDict = { RequestType: 'DeviceLock' };
      if (text(p.message)) c.Message = text(p.message)!;
      if (text(p.phone)) c.PhoneNumber = text(p.phone)!;
      return c;
    }
    case 'wipe':
      return { RequestType: 'EraseDevice', PreserveDataPlan: true };
    case 'reboot':
      return { RequestType: 'RestartDevice' };
    case 'shutdown':
      return { RequestType: 'ShutDownDevice' };
    case 'refresh_inventory':
      return { RequestType: 'DeviceInformation', Queries: DEVICE_INFORMATION_QUERIES };
    case 'refresh_apps':
      return { RequestType: 'InstalledApplicationList' };
    case 'locate':
      return { RequestType: 'DeviceLocation' };
    case 'lost_mode_on': {
      const c: PlistDict = { RequestType: 'EnableLostMode', Message: String(p.message ?? '') };
      if (text(p.phone)) c.PhoneNumber = text(p.phone)!;
      if (text(p.footnote)) c.Footnote = text(p.footnote)!;
      return c;
    }
    case 'lost_mode_off':
      return { RequestType: 'DisableLostMode' };
    case 'lost_mode_sound':
      return { RequestType: 'PlayLostModeSound' };
    case 'profile_list':
      return { RequestType: 'ProfileList', ManagedOnly: true };
    case 'remove_profile':
      return { RequestType: 'RemoveProfile', Identifier: `${DEFAULT_IDENTIFIER_PREFIX}.${String(p.profileId)}` };
    case 'install_profile': {
      const checked = checkProfile(p.profile);
      if (!checked.ok) throw new RenderError(`the profile is invalid: ${checked.problems.map((x) => `${x.path} ${x.message}`).join('; ')}`);
      const { output } = compileMobileconfig(checked.profile);
      return { RequestType: 'InstallProfile', Payload: signMobileconfig(output.xml, await profileSigner()) };
    }
    case 'install_app':
      return installApplication(p);
    case 'remove_app': {
      const identifier = text(p.identifier) ?? text(p.packageName);
      if (!identifier) throw new RenderError('remove_app names no bundle id');
      return { RequestType: 'RemoveApplication', Identifier: identifier };
    }
    default:
      throw new RenderError(`iPads cannot take the ${command.kind} command`);
  }
}
