import { UUID_PATTERN, createMessage, type Envelope } from '../../../agent-protocol/src';

const UUID = new RegExp(UUID_PATTERN);

export const isUuid = (value: string | undefined): value is string => value !== undefined && UUID.test(value);

export const ack = (ref: string): Envelope => createMessage('ack', {}, { ref });

/** `ref` must be a UUID: the id of a message too broken to have one is left out. */
export function protocolError(code: string, message: string, ref?: string, retryAfterSec?: number): Envelope {
  return createMessage('error', { code, message, ...(retryAfterSec !== undefined ? { retryAfterSec } : {}) }, isUuid(ref) ? { ref } : {});
}
