import { ConflictError } from '../../domain/errors';

/** What the gate needs to know of a device. */
export interface GatedDevice {
  platform: string;
  agentVersionCode: number | null;
  /** The agent's own package, as it gave it at enrollment. */
  agentPackage: string | null;
}

/**
 * Agent protocol §24.1: below the minimum agent version, a tablet is still heard from, but is
 * given nothing but its own update (and cancellations and report requests, which are not
 * commands). The same rule holds back delivery in SQL (see `heldBackFromOutdatedAgent`), so a
 * command queued before the minimum was raised waits for the update too.
 */
export function createAgentVersionGate(minAgentVersionCode: number | undefined) {
  const min = minAgentVersionCode ?? null;

  /** A device that has not told its version yet is given the benefit of the doubt, as the API shows it. */
  const outdated = (device: GatedDevice) => min !== null && device.platform === 'android' && device.agentVersionCode !== null && device.agentVersionCode < min;
  const selfUpdate = (kind: string, params: Record<string, unknown>, device: GatedDevice) =>
    kind === 'install_app' && device.agentPackage !== null && params.packageName === device.agentPackage;

  return {
    minAgentVersionCode: min,
    outdated,

    /** The refusal a command for this device gets, or null when it may be created. */
    refusal(kind: string, params: Record<string, unknown>, device: GatedDevice): ConflictError | null {
      if (!outdated(device) || selfUpdate(kind, params, device)) return null;
      return new ConflictError(
        `The device's agent (versionCode ${device.agentVersionCode}) is older than the minimum ${min}: it takes no command but its own update until it is updated`,
        'agent_outdated',
        { minAgentVersionCode: min, agentVersionCode: device.agentVersionCode },
      );
    },
  };
}
export type AgentVersionGate = ReturnType<typeof createAgentVersionGate>;
