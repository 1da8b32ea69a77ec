import { COMMAND_CAPABILITY, COMMAND_KINDS, type Command } from '../../../agent-protocol/src';
import type { NeutralCommand } from '../../domain/commands';
import type { PlatformAdapter } from '../../domain/platform-ports';

/** The kinds protocol version 1 defines; a device that did not announce a kind's capability (§5) is not sent it. */
const AGENT_KINDS: ReadonlySet<string> = new Set(COMMAND_KINDS);

/**
 * Android tablets through Cartable's agent. Neutral kinds and params map one to one onto the
 * protocol, so rendering is a projection; a nudge over the device's socket wakes it, and a push
 * wakes a device without one.
 */
export function createAgentPlatformAdapter(deps: { nudge(deviceIds: string[]): Promise<string[]>; push(offline: string[]): Promise<void> }): PlatformAdapter<Command> {
  return {
    platform: 'android',
    capabilityFor: (kind) => (AGENT_KINDS.has(kind) ? COMMAND_CAPABILITY[kind as keyof typeof COMMAND_CAPABILITY] : undefined),
    async wake(deviceIds) {
      const online = new Set(await deps.nudge(deviceIds));
      await deps.push(deviceIds.filter((id) => !online.has(id)));
    },
    async render(command: NeutralCommand): Promise<Command> {
      // The catalog version is the server's bookkeeping; the agent gets the file's facts only.
      const { appVersionId: _catalogVersion, appId: _catalogApp, appPlatform: _platform, ...params } = command.params;
      return {
        commandId: command.id,
        kind: command.kind,
        params: command.kind === 'install_app' || command.kind === 'remove_app' ? params : command.params,
        issuedAt: command.createdAt.toISOString(),
        expiresAt: command.expiresAt.toISOString(),
      };
    },
  };
}
