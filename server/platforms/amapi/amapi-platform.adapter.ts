import type { NeutralCommand } from '../../domain/commands';
import type { PlatformAdapter } from '../../domain/platform-ports';
import type { AmapiAction } from '../../modules/amapi/amapi.port';
import { AMAPI_KINDS, amapiAction } from './amapi-commands';

/**
 * Android tablets managed through Google's Android Management API. Waking means handing the
 * devices' pending commands to Google (a job does it, so a quota wait never holds the caller);
 * Google's Android Device Policy then reaches the tablet through Google's own push.
 */
export function createAmapiPlatformAdapter(deps: {
  dispatch(deviceIds: string[]): Promise<void>;
  /** Whose tablet it is, for lost mode's screen. */
  placeOf(command: NeutralCommand): Promise<{ name: string; address: string | null }>;
}): PlatformAdapter<AmapiAction> {
  return {
    platform: 'android',
    channel: 'amapi',
    capabilityFor: (kind) => (kind in AMAPI_KINDS ? AMAPI_KINDS[kind] : undefined),
    wake: (deviceIds) => deps.dispatch(deviceIds),
    async render(command) {
      return amapiAction(command, command.kind === 'lost_mode_on' ? await deps.placeOf(command) : { name: '', address: null });
    },
  };
}
