import type { Platform } from '../../domain/devices';
import type { CommandRefusal, PlatformAdapter } from '../../domain/platform-ports';
import type { Eligibility } from './command-batches.repository';

const WAKE_TIMEOUT_MS = 1000;

/**
 * Every platform adapter of the process, chosen by a device's platform. A platform without an
 * adapter carries no command, and says so.
 */
export function createPlatformRegistry(adapters: readonly PlatformAdapter[]) {
  const byPlatform = new Map<Platform, PlatformAdapter>(adapters.map((a) => [a.platform, a]));

  return {
    adapterFor(platform: Platform): PlatformAdapter | undefined {
      return byPlatform.get(platform);
    },

    /**
     * Why this device cannot take the kind, or null when it can (capabilities null: not announced
     * yet). Params naming an app's platform (`appPlatform`) keep the command to that platform.
     */
    refusal(kind: string, device: { platform: Platform; capabilities: readonly string[] | null }, params?: Record<string, unknown>): CommandRefusal | null {
      const adapter = byPlatform.get(device.platform);
      if (!adapter) return { code: 'platform_not_managed', message: `Cartable does not manage ${device.platform} devices yet` };
      if (typeof params?.appPlatform === 'string' && params.appPlatform !== device.platform) {
        return { code: 'app_platform_mismatch', message: `The app is for ${params.appPlatform} devices; this one is ${device.platform}` };
      }
      const capability = adapter.capabilityFor(kind);
      if (capability === undefined) return { code: 'kind_not_supported_on_platform', message: `${device.platform} devices cannot take the ${kind} command` };
      if (capability !== null && device.capabilities !== null && !device.capabilities.includes(capability)) {
        return { code: 'capability_not_announced', message: adapter.missingCapability?.(kind, capability) ?? `The device did not announce the ${capability} capability the ${kind} command needs` };
      }
      return null;
    },

    /** The platforms that can take the kind, each with the capability its devices must have announced. */
    eligibility(kind: string, params?: Record<string, unknown>): Eligibility {
      const rules: Eligibility = [];
      for (const adapter of byPlatform.values()) {
        if (typeof params?.appPlatform === 'string' && params.appPlatform !== adapter.platform) continue;
        const capability = adapter.capabilityFor(kind);
        if (capability !== undefined) rules.push({ platform: adapter.platform, capability });
      }
      return rules;
    },

    /**
     * Wakes devices up, platform by platform. Best effort and bounded in time: the commands are
     * committed, and the reconciler wakes whatever this misses.
     */
    async wake(devices: readonly { id: string; platform: Platform }[]): Promise<void> {
      const ids = new Map<Platform, string[]>();
      for (const d of devices) {
        const list = ids.get(d.platform);
        if (list) list.push(d.id);
        else ids.set(d.platform, [d.id]);
      }
      await Promise.all(
        [...ids].map(([platform, list]) => {
          const adapter = byPlatform.get(platform);
          if (!adapter) return undefined;
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, WAKE_TIMEOUT_MS)));
          return Promise.race([adapter.wake(list).catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
        }),
      );
    },
  };
}
export type PlatformRegistry = ReturnType<typeof createPlatformRegistry>;
