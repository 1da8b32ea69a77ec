import { TIMERS, UNSEQUENCED_OUTBOX_TYPES, type Envelope } from '../src';

export interface OutboxLimits {
  maxMessages: number;
  maxBytes: number;
  /** When the outbox is full, the newest `report.location` kept. */
  maxLocations: number;
}

export const DEFAULT_OUTBOX_LIMITS: OutboxLimits = {
  maxMessages: TIMERS.outboxMaxMessages,
  maxBytes: TIMERS.outboxMaxBytes,
  maxLocations: TIMERS.outboxMaxLocations,
};

export interface OutboxState {
  outbox: Envelope[];
  /** The `seq` of the next numbered message (§14.5). */
  nextSeq?: number;
}

/** Fresh full reports that replace every queued one of their type when the outbox is full. */
export interface FreshReports {
  apps(): Envelope;
  inventory(): Envelope;
}

const size = (m: Envelope) => Buffer.byteLength(JSON.stringify(m), 'utf8');

/**
 * §14.3 and §14.5: numbers the message (all but `report.status`, which instead replaces the
 * unacknowledged one), appends it, then enforces the bound. A message that already has a `seq`
 * is a re-send and keeps it.
 */
export function enqueue(state: OutboxState, message: Envelope, fresh: FreshReports, limits: OutboxLimits = DEFAULT_OUTBOX_LIMITS): Envelope[] {
  if (UNSEQUENCED_OUTBOX_TYPES.has(message.type)) {
    state.outbox = state.outbox.filter((m) => m.type !== message.type);
  } else if (message.seq === undefined) {
    message.seq = state.nextSeq ?? 1;
    state.nextSeq = message.seq + 1;
  }
  state.outbox.push(message);
  return enforceBound(state, fresh, limits);
}

/** Drops what §14.3 allows, in its order, until the outbox fits. Returns the dropped messages. */
export function enforceBound(state: OutboxState, fresh: FreshReports, limits: OutboxLimits = DEFAULT_OUTBOX_LIMITS): Envelope[] {
  const dropped: Envelope[] = [];
  let bytes = state.outbox.reduce((n, m) => n + size(m), 0);
  const fits = () => state.outbox.length <= limits.maxMessages && bytes <= limits.maxBytes;
  const remove = (keep: (m: Envelope, index: number) => boolean) => {
    const kept: Envelope[] = [];
    state.outbox.forEach((m, i) => {
      if (keep(m, i)) return void kept.push(m);
      dropped.push(m);
      bytes -= size(m);
    });
    state.outbox = kept;
  };
  const replaceAll = (type: string, make: () => Envelope) => {
    if (!state.outbox.some((m) => m.type === type)) return;
    remove((m) => m.type !== type);
    const replacement = make();
    replacement.seq = state.nextSeq ?? 1;
    state.nextSeq = replacement.seq + 1;
    state.outbox.push(replacement);
    bytes += size(replacement);
  };

  if (fits()) return dropped;
  const locations = state.outbox.filter((m) => m.type === 'report.location');
  const tooOld = new Set(locations.slice(0, Math.max(0, locations.length - limits.maxLocations)));
  remove((m) => !tooOld.has(m));
  if (fits()) return dropped;
  replaceAll('report.apps', fresh.apps);
  if (fits()) return dropped;
  replaceAll('report.inventory', fresh.inventory);
  while (!fits()) {
    const oldest = state.outbox.findIndex((m) => m.type === 'report.events');
    if (oldest < 0) break;
    remove((_m, i) => i !== oldest);
  }
  return dropped;
}
