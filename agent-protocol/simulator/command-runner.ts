import {
  AGENT_FEATURE_CAPABILITIES,
  COMMAND_CAPABILITIES,
  COMMAND_CAPABILITY,
  DESTRUCTIVE_COMMAND_KINDS,
  TIMERS,
  createMessage,
  isCommandExpired,
  validateCommandParams,
  type Command,
  type CommandParamsOf,
  type CommandResult,
  type DesiredState,
  type AppInfo,
  type Envelope,
} from '../src';
import { installApp, removeApp } from './app-installer';
import type { SimulatedAgent } from './simulated-agent';

/** Every capability the simulator implements is announced by default. */
export const AGENT_CAPABILITIES: string[] = [
  ...COMMAND_CAPABILITIES,
  ...AGENT_FEATURE_CAPABILITIES,
];

/** The capability a kind needs (§5); unknown kinds need one nobody announces. */
function capabilityOf(kind: string): string {
  return (COMMAND_CAPABILITY as Record<string, string>)[kind] ?? `unknown:${kind}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The agent's side of §13.2 and §13.5. Every commandId is recorded before its ack, and the
 * record survives reconnects and reboots, so a redelivered command only gets its known result
 * again: nothing runs twice. A cancel is recorded even before its command arrives, and a
 * cancelled command never runs.
 */
export class CommandRunner {
  /** Server clock minus ours, from the last welcome or session answer: expiry is judged on the server's clock. */
  skewMs = 0;

  constructor(
    private readonly agent: SimulatedAgent,
    /** Reboots (or wipes) the device once a destructive command has reported `executing`. */
    private readonly restart: (mode: 'reboot' | 'wipe' | 'update') => Promise<void>,
    /** How long a non-destructive command waits before it runs (a busy tablet): a cancel can land meanwhile. */
    private readonly executionDelayMs = 0,
  ) {}

  private entry(commandId: string) {
    return this.agent.state.commands[commandId];
  }

  /** §13.2: persist, ack, dedup, expiry, support, execute. */
  async receive(envelope: Envelope): Promise<void> {
    const command = envelope.body as Command;
    const commandId = command.commandId.toLowerCase();
    const seen = this.entry(commandId);
    if (!seen) {
      this.agent.state.commands[commandId] = { receivedAt: new Date().toISOString() };
      await this.agent.save();
    }
    this.agent.sendRaw(createMessage('command.ack', { commandId }, { ref: envelope.id }));
    if (seen) {
      const queued = this.agent.state.outbox.some((m) => m.type === 'command.result' && m.body.commandId === commandId);
      if (seen.result && !queued) this.agent.queue(createMessage('command.result', seen.result));
      return;
    }
    if (isCommandExpired(command, Date.now(), this.skewMs)) return this.finish(commandId, { commandId, status: 'expired' });
    if (!this.agent.capabilities.includes(capabilityOf(command.kind))) {
      return this.finish(commandId, { commandId, status: 'failed', error: { code: 'UNSUPPORTED', message: `Command kind ${command.kind} is not supported by this agent.` } });
    }
    if (!validateCommandParams(command.kind, command.params).ok) {
      return this.finish(commandId, { commandId, status: 'failed', error: { code: 'INVALID_VALUE', message: 'Invalid params.' } });
    }
    await this.execute(commandId, command);
  }

  /** §13.5: recorded even for a command not seen yet; a command not started never runs. */
  async cancel(envelope: Envelope): Promise<void> {
    const commandId = String(envelope.body.commandId).toLowerCase();
    const seen = this.entry(commandId);
    const started = this.agent.executions.has(commandId) || Boolean(seen?.result);
    if (!seen) this.agent.state.commands[commandId] = { receivedAt: new Date().toISOString(), cancelled: true };
    else if (!started) seen.cancelled = true;
    await this.agent.save();
    this.agent.sendRaw(createMessage('ack', {}, { ref: envelope.id }));
    if (!started) this.agent.emit('cancelled', commandId);
  }

  /**
   * §24.3: downloaded and checked like any install, then the pending update is stored, `executing`
   * sent and acknowledged, and the new version "starts": the profile's agent takes the target
   * versionCode and connects again, to send `succeeded` after its welcome.
   */
  private async selfUpdate(commandId: string, params: CommandParamsOf<'install_app'>, baseline: AppInfo[]): Promise<void> {
    const own = this.agent.profile.agent;
    const outcome = await installApp(this.agent.state, baseline, params);
    if (outcome.status !== 'succeeded' || params.versionCode === own.versionCode) return this.finish(commandId, { commandId, ...outcome });
    this.agent.state.pendingUpdate = { commandId, versionCode: params.versionCode };
    const executing = createMessage('command.result', { commandId, status: 'executing' });
    this.entry(commandId)!.result = executing.body as CommandResult;
    this.agent.queue(executing);
    await this.agent.save();
    await this.agent.waitForAck(executing.id, TIMERS.destructiveConfirmTimeoutSec * 1000);
    own.versionCode = params.versionCode;
    own.versionName = String(params.versionCode);
    this.agent.emit('updated', params.versionCode);
    return this.restart('update');
  }

  async finish(commandId: string, result: CommandResult): Promise<void> {
    const entry = (this.agent.state.commands[commandId] ??= { receivedAt: new Date().toISOString() });
    entry.result = result;
    this.agent.queue(createMessage('command.result', result));
    await this.agent.save();
  }

  private async execute(commandId: string, command: Command): Promise<void> {
    const destructive = (DESTRUCTIVE_COMMAND_KINDS as readonly string[]).includes(command.kind);
    if (!destructive && this.executionDelayMs > 0) await sleep(this.executionDelayMs);
    // Checked right before running, however long the wait was (§13.2 step 6).
    if (this.entry(commandId)?.cancelled) return;
    if (isCommandExpired(command, Date.now(), this.skewMs)) return this.finish(commandId, { commandId, status: 'expired' });
    this.agent.executions.set(commandId, (this.agent.executions.get(commandId) ?? 0) + 1);
    this.agent.emit('executed', command);
    if (destructive) {
      // A reboot's result can only be known after it: `succeeded` is sent from the next boot.
      if (command.kind !== 'wipe') this.agent.state.pendingRestart = { commandId, bootId: this.agent.state.bootId };
      const executing = createMessage('command.result', { commandId, status: 'executing' });
      this.entry(commandId)!.result = executing.body as CommandResult;
      this.agent.queue(executing);
      await this.agent.save();
      await this.agent.waitForAck(executing.id, TIMERS.destructiveConfirmTimeoutSec * 1000);
      return this.restart(command.kind === 'wipe' ? 'wipe' : 'reboot');
    }
    if (command.kind === 'apply_policy') {
      const outcome = await this.agent.applyDesiredState(command.params as DesiredState);
      const failed: CommandResult = { commandId, status: 'failed', error: { code: 'INVALID_VALUE', message: 'The policy was refused (see the policy_rejected event).' } };
      return this.finish(commandId, outcome === 'rejected' ? failed : { commandId, status: 'succeeded' });
    }
    if (command.kind === 'install_app' || command.kind === 'remove_app') {
      // The running agent is listed at its own version, which a test may have lowered.
      const own = this.agent.profile.agent;
      const baseline = this.agent.profile.apps().apps.map((a) => (a.packageName === own.packageName ? { ...a, versionName: own.versionName, versionCode: own.versionCode } : a));
      if (command.kind === 'install_app' && (command.params as CommandParamsOf<'install_app'>).packageName === own.packageName) {
        return this.selfUpdate(commandId, command.params as CommandParamsOf<'install_app'>, baseline);
      }
      const outcome =
        command.kind === 'install_app'
          ? await installApp(this.agent.state, baseline, command.params as CommandParamsOf<'install_app'>)
          : removeApp(this.agent.state, baseline, command.params as CommandParamsOf<'remove_app'>, this.agent.profile.agent.packageName);
      await this.finish(commandId, { commandId, ...outcome });
      if (outcome.status === 'succeeded') this.agent.sendApps();
      return;
    }
    if (command.kind === 'lost_mode_sound' && !this.agent.state.lostMode) {
      return this.finish(commandId, { commandId, status: 'failed', error: { code: 'INVALID_VALUE', message: 'The device is not in lost mode.' } });
    }
    const result: CommandResult = { commandId, status: 'succeeded' };
    if (command.kind === 'locate') result.result = { location: this.agent.profile.location() };
    if (command.kind === 'lost_mode_on') this.agent.state.lostMode = commandId;
    if (command.kind === 'lost_mode_off') this.agent.state.lostMode = undefined;
    if (command.kind === 'refresh_inventory') this.agent.sendInventory();
    if (command.kind === 'refresh_apps') this.agent.sendApps();
    await this.finish(commandId, result);
    if (command.kind === 'lost_mode_on') this.agent.queue(createMessage('report.location', { ...this.agent.profile.location(), commandId }));
  }
}
