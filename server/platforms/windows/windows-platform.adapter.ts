import type { NeutralCommand } from '../../domain/commands';
import type { PlatformAdapter } from '../../domain/platform-ports';
import { WINDOWS_KINDS, windowsCommands, type WindowsRendered } from './windows-commands';

/**
 * Windows tablets through OMA-DM. A command waits for the tablet's next session (its poll
 * schedule, or a sign-in): there is no push yet (WNS needs a Store app reservation), so waking
 * is a no-op and the console says the command waits for the next check-in.
 */
export function createWindowsPlatformAdapter(): PlatformAdapter<WindowsRendered> {
  return {
    platform: 'windows',
    capabilityFor: (kind) => (kind in WINDOWS_KINDS ? WINDOWS_KINDS[kind] : undefined),
    wake: async () => undefined,
    async render(command: NeutralCommand): Promise<WindowsRendered> {
      return { commandId: command.id, kind: command.kind, commands: windowsCommands(command) };
    },
  };
}
