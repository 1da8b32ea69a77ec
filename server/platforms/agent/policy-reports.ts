import type { DesiredState, DesiredStatePort, NonComplianceDetail } from '../../domain/platform-ports';

const isVersion = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * §27.3: `policy_applied {version, nonCompliance[]}` and `policy_rejected {version, errors[]}`
 * events, read defensively (event data is free-form in the protocol): an event without a
 * usable version is kept in the event log only.
 */
export async function recordPolicyEvent(port: DesiredStatePort, deviceId: string, kind: string, data: Record<string, unknown>): Promise<void> {
  if (kind !== 'policy_applied' && kind !== 'policy_rejected') return;
  if (!isVersion(data.version)) return;
  if (kind === 'policy_rejected') return port.rejected(deviceId, data.version, Array.isArray(data.errors) ? data.errors.slice(0, 100) : []);
  const details: NonComplianceDetail[] = (Array.isArray(data.nonCompliance) ? data.nonCompliance : []).slice(0, 200).flatMap((entry: unknown) => {
    const e = entry as { fieldPath?: unknown; reason?: unknown } | null;
    return e && typeof e.fieldPath === 'string' && typeof e.reason === 'string' ? [{ fieldPath: e.fieldPath.slice(0, 200), reason: e.reason.slice(0, 64) }] : [];
  });
  return port.applied(deviceId, data.version, details);
}

/**
 * The desired state a session opens with (§11.3, §15.1): only when newer than the version the
 * agent announced, which is recorded as what it holds.
 */
export async function newerDesiredState(port: DesiredStatePort, deviceId: string, appliedStateVersion: number | undefined): Promise<{ desiredState?: DesiredState }> {
  if (appliedStateVersion !== undefined) await port.announced(deviceId, appliedStateVersion);
  const state = await port.current(deviceId);
  return state.version > (appliedStateVersion ?? 0) ? { desiredState: state } : {};
}
