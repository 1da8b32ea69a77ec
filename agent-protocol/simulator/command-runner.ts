import { CAPABILITIES, DESTRUCTIVE_COMMAND_KINDS, TIMERS, createMessage, isCommandExpired, validateCommandParams, type Command, type CommandResult, type Envelope } from '../src';
import type { SimulatedAgent } from './simulated-agent';

/** Application management and policies are not simulated: the agent says so in its hello. */
export const AGENT_CAPABILITIES = CAPABILITIES.filter((c) => !['install_app', 'remove_app', 'policy'].includes(c));

/**
 * The agent's side of §13.2. Every commandId is recorded before its ack, and the record survives
 * reconnects and reboots, so a redelivered command only gets its known result again: nothing runs
 * twice.
 */
export class CommandRunner {
  /** Server clock minus ours, from the last welcome: expiry is judged on the server's clock. */
  skewMs = 0;

  constructor(
    private readonly agent: SimulatedAgent,
    /** Reboots (or wipes) the device once a destructive command has reported `executing`. */
    private readonly restart: (wiped: boolean) => Promise<void>,
  ) {}

  /** §13.2: persist, ack, dedup, expiry, support, execute. */
  async receive(envelope: Envelope): Promise<void> {
    const command = envelope.body as Command;
    const commandId = command.commandId.toLowerCase();
    const seen = this.agent.state.commands[commandId];
    if (!seen) {
      this.agent.state.commands[commandId] = { receivedAt: new Date().toISOString() };
      await this.agent.save();
    }
    this.agent.sendRaw(createMessage('command.ack', { commandId }, { ref: envelope.id }));
    if (seen) {
      if (seen.result && !this.agent.state.outbox.some((m) => m.type === 'command.result' && m.body.commandId === commandId)) this.agent.queue(createMessage('command.result', seen.result));
      return;
    }
    if (isCommandExpired(command, Date.now(), this.skewMs)) return this.finish(commandId, { commandId, status: 'expired' });
    if (!(AGENT_CAPABILITIES as string[]).includes(capabilityOf(command.kind))) {
      return this.finish(commandId, { commandId, status: 'failed', error: { code: 'UNSUPPORTED', message: `Command kind ${command.kind} is not supported by this agent.` } });
    }
    if (!validateCommandParams(command.kind, command.params).ok) {
      return this.finish(commandId, { commandId, status: 'failed', error: { code: 'INVALID_VALUE', message: 'Invalid params.' } });
    }
    await this.execute(commandId, command);
  }

  /** A cancel may arrive before its command: it is recorded so the command never runs. */
  async cancel(envelope: Envelope): Promise<void> {
    const commandId = String(envelope.body.commandId).toLowerCase();
    const seen = this.agent.state.commands[commandId];
    if (!seen) this.agent.state.commands[commandId] = { receivedAt: new Date().toISOString(), cancelled: true };
    else if (!seen.result) seen.cancelled = true;
    await this.agent.save();
    this.agent.sendRaw(createMessage('ack', {}, { ref: envelope.id }));
  }

  async finish(commandId: string, result: CommandResult): Promise<void> {
    const entry = (this.agent.state.commands[commandId] ??= { receivedAt: new Date().toISOString() });
    entry.result = result;
    this.agent.queue(createMessage('command.result', result));
    await this.agent.save();
  }

  private async execute(commandId: string, command: Command): Promise<void> {
    if (this.agent.state.commands[commandId]?.cancelled) return;
    this.agent.executions.set(commandId, (this.agent.executions.get(commandId) ?? 0) + 1);
    this.agent.emit('executed', command);
    if (DESTRUCTIVE_COMMAND_KINDS.includes(command.kind as (typeof DESTRUCTIVE_COMMAND_KINDS)[number])) {
      // A reboot's result can only be known after it: `succeeded` is sent from the next boot.
      if (command.kind !== 'wipe') this.agent.state.pendingRestart = { commandId, bootId: this.agent.state.bootId };
      const executing = createMessage('command.result', { commandId, status: 'executing' });
      this.agent.state.commands[commandId]!.result = executing.body as CommandResult;
      this.agent.queue(executing);
      await this.agent.save();
      await this.agent.waitForAck(executing.id, TIMERS.destructiveConfirmTimeoutSec * 1000);
      return this.restart(command.kind === 'wipe');
    }
    const result: CommandResult = { commandId, status: 'succeeded' };
    if (command.kind === 'locate') result.result = { location: this.agent.profile.location() };
    if (command.kind === 'lost_mode_on') this.agent.state.lostMode = commandId;
    if (command.kind === 'lost_mode_off') this.agent.state.lostMode = undefined;
    if (command.kind === 'refresh_inventory') this.agent.sendInventory();
    await this.finish(commandId, result);
    if (command.kind === 'lost_mode_on') this.agent.queue(createMessage('report.location', { ...this.agent.profile.location(), commandId }));
  }
}

/** Both lost-mode commands fall under the one `lost_mode` capability. */
function capabilityOf(kind: string): string {
  return kind === 'lost_mode_on' || kind === 'lost_mode_off' ? 'lost_mode' : kind;
}
