/**
 * What a device protocol adapter needs from the command queue. The agent gateway calls it when a
 * device connects, polls or is nudged, and when the device acknowledges or reports a result.
 */
export interface PendingCommand {
  id: string;
  kind: string;
  params: Record<string, unknown>;
  /** The command as rendered for the device's platform. */
  payload: Record<string, unknown> | null;
  createdAt: Date;
  expiresAt: Date;
}

export interface CommandResultInput {
  status: 'succeeded' | 'failed' | 'not_now' | 'expired' | 'executing';
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
  /** The message as received, kept for diagnosis. */
  raw?: unknown;
}

export interface CommandDelivery {
  /** Unexpired queued or sent commands of the device, oldest first; expired ones are marked expired on the way. */
  pendingFor(deviceId: string): Promise<PendingCommand[]>;
  /** queued → sent (and attempts + 1) once the frames are written to the device. */
  markSent(deviceId: string, commandIds: string[]): Promise<void>;
  acknowledge(deviceId: string, commandId: string): Promise<void>;
  recordResult(deviceId: string, commandId: string, result: CommandResultInput): Promise<void>;
}
