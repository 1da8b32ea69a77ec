import type { DeviceChannel, Platform } from '../../domain/devices';
import type { CommandRefusal, PlatformAdapter } from '../../domain/platform-ports';
import type { Eligibility } from './command-batches.repository';

const WAKE_TIMEOUT_MS = 1000;

/** A device as the registry routes it: its platform, and the channel managing it when not the platform's own. */
export interface RoutedDevice {
  id: string;
  platform: Platform;
  channel?: DeviceChannel | null;
}

const keyOf = (platform: Platform, channel: DeviceChannel | null | undefined) => (channel ? `${platform}:${channel}` : platform);

/**
 * Every platform adapter of the process, chosen by a device's platform and channel. A platform
 * (or channel) without an adapter carries no command, and says so.
 */
export function createPlatformRegistry(adapters: readonly PlatformAdapter[]) {
  const byKey = new Map<string, PlatformAdapter>(adapters.map((a) => [keyOf(a.platform, a.channel), a]));

  return {
    adapterFor(platform: Platform, channel: DeviceChannel | null = null): PlatformAdapter | undefined {
      return byKey.get(keyOf(platform, channel));
    },

    /**
     * Why this device cannot take the kind, or null when it can (capabilities null: not announced
     * yet). Params naming an app's platform (`appPlatform`) keep the command to that platform.
     */
    refusal(kind: string, device: { platform: Platform; channel?: DeviceChannel | null; capabilities: readonly string[] | null }, params?: Record<string, unknown>): CommandRefusal | null {
      const adapter = byKey.get(keyOf(device.platform, device.channel));
      if (!adapter) return { code: 'platform_not_managed', message: `Cartable does not manage ${device.channel ? `${device.platform} devices through ${device.channel}` : `${device.platform} devices`} yet` };
      if (typeof params?.appPlatform === 'string' && params.appPlatform !== device.platform) {
        return { code: 'app_platform_mismatch', message: `The app is for ${params.appPlatform} devices; this one is ${device.platform}` };
      }
      const capability = adapter.capabilityFor(kind);
      if (capability === undefined) return { code: 'kind_not_supported_on_platform', message: `${device.channel ? `${device.platform} devices managed through ${device.channel}` : `${device.platform} devices`} cannot take the ${kind} command` };
      if (capability !== null && device.capabilities !== null && !device.capabilities.includes(capability)) {
        return { code: 'capability_not_announced', message: adapter.missingCapability?.(kind, capability) ?? `The device did not announce the ${capability} capability the ${kind} command needs` };
      }
      return null;
    },

    /** The platforms that can take the kind, each with the capability its devices must have announced. */
    eligibility(kind: string, params?: Record<string, unknown>): Eligibility {
      const rules: Eligibility = [];
      for (const adapter of byKey.values()) {
        if (typeof params?.appPlatform === 'string' && params.appPlatform !== adapter.platform) continue;
        const capability = adapter.capabilityFor(kind);
        if (capability !== undefined) rules.push({ platform: adapter.platform, channel: adapter.channel ?? null, capability });
      }
      return rules;
    },

    /**
     * Wakes devices up, platform by platform. Best effort and bounded in time: the commands are
     * committed, and the reconciler wakes whatever this misses.
     */
    async wake(devices: readonly RoutedDevice[]): Promise<void> {
      const ids = new Map<string, string[]>();
      for (const d of devices) {
        const key = keyOf(d.platform, d.channel);
        const list = ids.get(key);
        if (list) list.push(d.id);
        else ids.set(key, [d.id]);
      }
      await Promise.all(
        [...ids].map(([key, list]) => {
          const adapter = byKey.get(key);
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
