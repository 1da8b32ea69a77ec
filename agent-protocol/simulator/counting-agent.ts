import type { Envelope } from '../src';
import { SimulatedAgent } from './simulated-agent';

const FINAL = new Set(['succeeded', 'failed', 'expired']);

/**
 * A simulated tablet that counts, at the wire and before its own de-duplication, every command
 * frame it receives, and notes any frame of a command whose final result the server had already
 * acknowledged: a server that delivered twice what it had already completed makes that count
 * non-zero, whatever the agent then does with it. `holdMs` delays its handling of each command
 * (acknowledgement and execution), to keep commands in flight when a fault strikes.
 */
export class CountingAgent extends SimulatedAgent {
  readonly frames = new Map<string, number>();
  readonly framesAfterDone = new Map<string, number>();
  holdMs = 0;
  private readonly done = new Set<string>();
  private readonly finalResults = new Map<string, string>();

  /** Counts as the frame arrives, before any hold or de-duplication. */
  override async onMessage(envelope: Envelope): Promise<void> {
    if (envelope.type === 'command') {
      const id = String(envelope.body.commandId).toLowerCase();
      this.frames.set(id, (this.frames.get(id) ?? 0) + 1);
      if (this.done.has(id)) this.framesAfterDone.set(id, (this.framesAfterDone.get(id) ?? 0) + 1);
      if (this.holdMs > 0) await new Promise((r) => setTimeout(r, this.holdMs));
    } else if (envelope.type === 'ack' && envelope.ref) {
      const commandId = this.finalResults.get(envelope.ref);
      if (commandId) this.done.add(commandId);
    }
    return super.onMessage(envelope);
  }

  override queue(message: Envelope): void {
    if (message.type === 'command.result' && FINAL.has(String(message.body.status))) this.finalResults.set(message.id, String(message.body.commandId).toLowerCase());
    super.queue(message);
  }
}

/** Every command executed exactly once, nothing delivered again after it was done. */
export function deliveryReport(agents: CountingAgent[]) {
  const executions = agents.flatMap((a) => [...a.executions.values()]);
  return {
    executed: executions.reduce((n, x) => n + x, 0),
    executedTwice: executions.filter((n) => n > 1).length,
    framesAfterDone: agents.reduce((n, a) => n + [...a.framesAfterDone.values()].reduce((x, y) => x + y, 0), 0),
    frames: agents.reduce((n, a) => n + [...a.frames.values()].reduce((x, y) => x + y, 0), 0),
  };
}
