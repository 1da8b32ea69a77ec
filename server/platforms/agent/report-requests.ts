import { createMessage, type Envelope } from '../../../agent-protocol/src';
import type { InventoryPort, ReportRequest } from '../../domain/platform-ports';

/** What one connection, or one exchange, has seen of the device's numbering (§14.5). */
export interface ChannelState {
  /** The first numbered message was seen: later jumps are not losses. */
  sequenceChecked: boolean;
}

export const freshChannel = (): ChannelState => ({ sequenceChecked: false });

/** The request's id is the stored one, so the agent's `ack` names it. */
export const reportRequestMessage = (request: ReportRequest): Envelope => createMessage('report.request', { kinds: request.kinds, reason: request.reason }, { id: request.id });

/**
 * §14.5: the numbered message updates the device's highest `seq`; when the first one of the
 * channel shows messages lost for good, a fresh inventory and app list put the server's view
 * right again (only for agents that understand `report.request`).
 */
export async function trackSequence(inventory: InventoryPort, deviceId: string, seq: number | undefined, channel: ChannelState): Promise<Envelope[]> {
  if (seq === undefined) return [];
  const oldestUnsent = !channel.sequenceChecked;
  channel.sequenceChecked = true;
  const gap = await inventory.recordSequence(deviceId, seq, oldestUnsent);
  if (!gap) return [];
  const request = await inventory.requestReports(deviceId, ['inventory', 'apps'], 'sequence_gap');
  return request ? [reportRequestMessage(request)] : [];
}

/** A `report.apps` discarded as invalid leaves the app list stale: ask for a full one. */
export async function requestAppsAgain(inventory: InventoryPort, deviceId: string): Promise<Envelope[]> {
  const request = await inventory.requestReports(deviceId, ['apps'], 'invalid_report');
  return request ? [reportRequestMessage(request)] : [];
}
