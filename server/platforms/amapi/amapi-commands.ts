import type { NeutralCommand } from '../../domain/commands';
import type { AmapiAction } from '../../modules/amapi/amapi.port';
import { toAmapiPolicy } from './amapi-policy.compiler';

/**
 * The neutral kinds an AMAPI tablet takes (null: no capability to announce, Google's Android
 * Device Policy does them all). Absent kinds are refused up front: AMAPI has no command for
 * them (`message`, `locate`, `shutdown`, `lost_mode_sound`, `refresh_apps`), or profiles reach
 * AMAPI tablets through their policy only (`install_profile`, `remove_profile`, `profile_list`).
 */
export const AMAPI_KINDS: Record<string, null> = {
  lock: null,
  reboot: null,
  wipe: null,
  lost_mode_on: null,
  lost_mode_off: null,
  refresh_inventory: null,
  install_app: null,
  remove_app: null,
  apply_policy: null,
};

/** Google's default is ten minutes; a command lives as long as Cartable's, capped at Google's practical limits. */
const durationOf = (command: NeutralCommand) => `${Math.max(60, Math.round((command.expiresAt.getTime() - command.createdAt.getTime()) / 1000))}s`;

const str = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);

/** What a neutral command becomes on an AMAPI tablet. Pure. */
export function amapiAction(command: NeutralCommand, organisation: { name: string; address: string | null }): AmapiAction {
  const p = command.params;
  const duration = durationOf(command);
  switch (command.kind) {
    case 'lock':
      return { type: 'issue', command: { type: 'LOCK', duration } };
    case 'reboot':
      return { type: 'issue', command: { type: 'REBOOT', duration } };
    case 'lost_mode_on': {
      const params: Record<string, unknown> = {
        lostMessage: { defaultMessage: [str(p.message), str(p.footnote)].filter(Boolean).join('\n') },
        lostOrganization: { defaultMessage: organisation.name },
      };
      if (str(p.phone)) params.lostPhoneNumber = { defaultMessage: str(p.phone) };
      if (organisation.address) params.lostStreetAddress = { defaultMessage: organisation.address };
      return { type: 'issue', command: { type: 'START_LOST_MODE', duration, startLostModeParams: params } };
    }
    case 'lost_mode_off':
      return { type: 'issue', command: { type: 'STOP_LOST_MODE', duration, stopLostModeParams: {} } };
    case 'wipe': {
      const flags: string[] = [];
      if (p.preserveFactoryResetProtection) flags.push('PRESERVE_RESET_PROTECTION_DATA');
      if (p.wipeExternalStorage) flags.push('WIPE_EXTERNAL_STORAGE');
      return { type: 'delete', wipeDataFlags: flags };
    }
    case 'refresh_inventory':
      return { type: 'refresh' };
    case 'apply_policy':
      return { type: 'policy', version: Number(p.version), policy: toAmapiPolicy((p.policy ?? {}) as Record<string, unknown>) as Record<string, unknown> };
    case 'install_app':
      // Google installs from managed Google Play (public or private app) by package name: the catalog's APK file itself is not used.
      return { type: 'app', packageName: String(p.packageName), install: { packageName: String(p.packageName), installType: 'FORCE_INSTALLED' } };
    case 'remove_app':
      return { type: 'app', packageName: String(p.packageName), install: { packageName: String(p.packageName), installType: 'BLOCKED' } };
    default:
      throw new Error(`${command.kind} has no AMAPI form`);
  }
}
