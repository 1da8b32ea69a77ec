import { Value } from '@sinclair/typebox/value';
import { COMMAND_KINDS, CommandResults, type Command } from '../../../agent-protocol/src';
import type { CommandResultInput } from '../../modules/commands/command-delivery';
import { storedFix } from '../../modules/devices/location-fix';
import type { NeutralCommand, ParsedResult, PlatformAdapter } from '../../modules/commands/platform-adapter';

const AGENT_KINDS: ReadonlySet<string> = new Set(COMMAND_KINDS);

/**
 * Neutral commands → protocol `command` bodies for the Android agent. Neutral kinds and params
 * map one to one onto protocol version 1, so rendering is a projection; the payload is exactly
 * the body the gateway sends.
 */
export function createAgentCommandAdapter(deps: { nudge(deviceIds: string[]): Promise<number> }): PlatformAdapter {
  return {
    platform: 'android',
    supports: (kind) => AGENT_KINDS.has(kind),
    render(command: NeutralCommand): Command {
      return {
        commandId: command.id,
        kind: command.kind,
        params: command.params,
        issuedAt: command.createdAt.toISOString(),
        expiresAt: command.expiresAt.toISOString(),
      };
    },
    async deliver(deviceIds) {
      await deps.nudge(deviceIds);
    },
    parseResult(kind: string, input: CommandResultInput): ParsedResult {
      const result = input.result ?? null;
      if (kind !== 'locate' || input.status !== 'succeeded') return { result, location: null };
      // A malformed fix is kept as received for diagnosis but never stored as a location.
      if (!Value.Check(CommandResults.locate, result)) return { result, location: null };
      const fix = CommandResults.locate.properties.location;
      const location = Value.Clean(fix, structuredClone(result!.location)) as (typeof result)['location'];
      return {
        result: { location },
        location: storedFix(location),
      };
    },
  };
}
