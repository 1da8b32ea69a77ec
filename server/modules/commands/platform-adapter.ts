import type { Platform } from '../../infra/db/schema';
import type { CommandResultInput } from './command-delivery';

/** A command as the domain knows it, before any platform has rendered it. */
export interface NeutralCommand {
  id: string;
  kind: string;
  params: Record<string, unknown>;
  createdAt: Date;
  expiresAt: Date;
}

/** A device's result once its platform adapter has checked the kind-specific data. */
export interface ParsedResult {
  result: Record<string, unknown> | null;
  /** A location fix carried by the result (locate), stored with the result. */
  location: LocationFix | null;
}

export interface LocationFix {
  lat: number;
  lon: number;
  accuracyM: number;
  altitudeM?: number | null;
  speedMps?: number | null;
  bearingDeg?: number | null;
  provider: string;
  fixTime: Date;
}

/**
 * How one device platform carries commands. The commands service speaks only neutral kinds;
 * the adapter renders them in the platform's native form, wakes devices up and reads results.
 */
export interface PlatformAdapter {
  readonly platform: Platform;
  /** Whether this platform can carry the kind at all (a device may still lack the capability). */
  supports(kind: string): boolean;
  /** The native payload stored with the command and handed to the gateway. */
  render(command: NeutralCommand): Record<string, unknown>;
  /** Asks the devices to come and fetch their pending commands (socket nudge, APNs push...). */
  deliver(deviceIds: string[]): Promise<void>;
  /** Checks and extracts the kind-specific part of a result. */
  parseResult(kind: string, input: CommandResultInput): ParsedResult;
}

export type PlatformAdapters = ReadonlyMap<Platform, PlatformAdapter>;

export function platformAdapters(...adapters: PlatformAdapter[]): PlatformAdapters {
  return new Map(adapters.map((a) => [a.platform, a]));
}
