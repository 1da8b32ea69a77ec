import type { NeutralCommand } from '../../domain/commands';
import { checkProfile } from '../../modules/profiles/profile-validation';
import { compileWindowsCommands } from './profiles/csp.compiler';
import { AppRenderError, installAppCommands, removeAppCommands } from './windows-apps';

/** One OMA-DM command of a rendered neutral command; `Get` may name several nodes. */
export interface SyncCommand {
  verb: 'Get' | 'Exec' | 'Add' | 'Replace' | 'Delete';
  items: Array<{ locUri: string; format?: string; data?: string }>;
}

/** A neutral command as the OMA-DM commands that carry it, in the order they must run. */
export interface WindowsRendered {
  commandId: string;
  kind: string;
  commands: SyncCommand[];
}

/**
 * The neutral kinds a Windows tablet takes through its CSPs (none needs an announced capability).
 * Absent, and refused before anything is queued: `lock` (RemoteLock answers 405 on PCs and
 * tablets without a PIN, and Microsoft documents it for phones), `locate` (no CSP gives a position
 * on Windows 10/11 desktops and tablets), lost mode, messages, shutdown, and `apply_policy`
 * (Windows takes profiles one by one, as install_profile / remove_profile). `remove_profile`
 * carries only the profile's id: the session renders it from what the tablet's install of that
 * profile recorded.
 */
export const WINDOWS_KINDS: Readonly<Record<string, null>> = {
  refresh_inventory: null,
  reboot: null,
  wipe: null,
  install_profile: null,
  remove_profile: null,
  install_app: null,
  remove_app: null,
};

/** The nodes a refresh asks for: DevDetail for the hardware and OS, DeviceStatus for battery and security. */
export const INVENTORY_NODES = {
  osVersion: './DevDetail/SwV',
  oem: './DevDetail/OEM',
  deviceType: './DevDetail/DevTyp',
  deviceName: './DevDetail/Ext/Microsoft/DeviceName',
  serial: './DevDetail/Ext/Microsoft/SMBIOSSerialNumber',
  totalStorageMb: './DevDetail/Ext/Microsoft/TotalStorage',
  freeStorageMb: './DevDetail/Ext/Microsoft/FreeStorage',
  totalRamMb: './DevDetail/Ext/Microsoft/TotalRAM',
  osPlatform: './DevDetail/Ext/Microsoft/OSPlatform',
  wlanMac: './DevDetail/Ext/WLANMACAddress',
  batteryStatus: './Vendor/MSFT/DeviceStatus/Battery/Status',
  batteryCharge: './Vendor/MSFT/DeviceStatus/Battery/EstimatedChargeRemaining',
  edition: './Vendor/MSFT/DeviceStatus/OS/Edition',
  encryption: './Vendor/MSFT/DeviceStatus/Compliance/EncryptionCompliance',
  secureBoot: './Vendor/MSFT/DeviceStatus/SecureBootState',
} as const;

export class RenderError extends Error {}

export function windowsCommands(command: NeutralCommand): SyncCommand[] {
  switch (command.kind) {
    case 'refresh_inventory':
      return [{ verb: 'Get', items: Object.values(INVENTORY_NODES).map((locUri) => ({ locUri })) }];
    case 'reboot':
      return [{ verb: 'Exec', items: [{ locUri: './Device/Vendor/MSFT/Reboot/RebootNow', format: 'null' }] }];
    case 'wipe':
      // doWipe rather than doWipeProtected, which can leave a PC unable to boot.
      return [{ verb: 'Exec', items: [{ locUri: './Device/Vendor/MSFT/RemoteWipe/doWipe', format: 'chr', data: '' }] }];
    case 'install_profile': {
      const checked = checkProfile(command.params.profile);
      if (!checked.ok) throw new RenderError(`the profile is invalid: ${checked.problems.map((x) => `${x.path} ${x.message}`).join('; ')}`);
      const { install } = compileWindowsCommands(checked.profile).output;
      if (install.length === 0) throw new RenderError('the profile holds nothing Windows can apply');
      return install.map((c) => ({ verb: c.verb, items: [{ locUri: c.locUri, format: c.format, data: c.data }] }));
    }
    case 'remove_profile':
      throw new RenderError('a profile removal is rendered from what its install recorded on the tablet');
    case 'install_app':
    case 'remove_app':
      try {
        return command.kind === 'install_app' ? installAppCommands(command.params) : removeAppCommands(command.params);
      } catch (error) {
        if (error instanceof AppRenderError) throw new RenderError(error.message);
        throw error;
      }
    default:
      throw new RenderError(`Windows tablets cannot take the ${command.kind} command`);
  }
}

/** What undoes an install_profile command's profile, in order: kept once the install succeeds. */
export function profileRemoval(command: NeutralCommand): { profileId: string; removal: Array<{ verb: 'Delete'; locUri: string }> } | null {
  const checked = checkProfile(command.params.profile);
  if (!checked.ok) return null;
  const { remove } = compileWindowsCommands(checked.profile).output;
  return { profileId: checked.profile.id, removal: remove.map((c) => ({ verb: 'Delete' as const, locUri: c.locUri })) };
}
