import type { NeutralCommand } from '../../domain/commands';
import type { PlatformAdapter } from '../../domain/platform-ports';
import type { CmsSigner } from '../../infra/pki';
import { APPLE_KINDS, appleCommand, SUPERVISED } from './apple-commands';
import type { PlistDict } from './mdm/apple-plist';

/**
 * iPads through Apple MDM. Rendering makes the command plist the device gets on its next
 * connection; waking sends an APNs push, after which the iPad connects by itself.
 */
export function createApplePlatformAdapter(deps: { push(deviceIds: string[]): Promise<void>; profileSigner(): Promise<CmsSigner> }): PlatformAdapter<PlistDict> {
  return {
    platform: 'ios',
    capabilityFor: (kind) => (kind in APPLE_KINDS ? APPLE_KINDS[kind] : undefined),
    missingCapability: (kind, capability) =>
      capability === SUPERVISED
        ? `The ${kind} command needs a supervised iPad (Apple School Manager or Apple Configurator); this iPad is not supervised`
        : `This iPad cannot take the ${kind} command without ${capability}`,
    wake: (deviceIds) => deps.push(deviceIds),
    async render(command: NeutralCommand): Promise<PlistDict> {
      return { CommandUUID: command.id, Command: await appleCommand(command, deps.profileSigner) };
    },
  };
}
