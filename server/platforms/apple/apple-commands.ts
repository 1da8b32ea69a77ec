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
    default:
      throw new RenderError(`iPads cannot take the ${command.kind} command`);
  }
}
