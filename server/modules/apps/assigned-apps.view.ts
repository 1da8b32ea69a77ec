import type { DeviceAppRow } from './app-assignments.repository';

export interface AssignedAppsView {
  apps: { id: string; name: string; identifier: string | null; version: string | null; status: 'applied' | 'pending' | 'failed' }[];
  mismatches: { reason: 'app_not_installed' | 'app_failed' | 'app_not_removed'; appId: string; appName: string; message: string; details?: unknown[] }[];
}

const ENDED_BADLY = new Set(['failed', 'expired', 'cancelled']);

/**
 * A device's assigned apps, desired beside applied: an app is applied when the install of the
 * version its assignments name succeeded, failed when that install failed (with the device's
 * error), pending otherwise; an app no assignment gives it any more stands as a mismatch until
 * its removal succeeded.
 */
export function assignedAppsView(rows: readonly DeviceAppRow[]): AssignedAppsView {
  const apps: AssignedAppsView['apps'] = [];
  const mismatches: AssignedAppsView['mismatches'] = [];
  for (const r of rows) {
    const name = r.name ?? r.identifier ?? '(deleted)';
    const details = r.error ? [r.error] : undefined;
    const ended = r.commandStatus !== null && ENDED_BADLY.has(r.commandStatus);
    if (r.wantedVersionId) {
      const current = r.action === 'install' && r.sentVersionId === r.wantedVersionId;
      const status = current && r.commandStatus === 'succeeded' ? 'applied' : current && ended ? 'failed' : 'pending';
      apps.push({ id: r.appId, name, identifier: r.identifier, version: r.wantedVersion, status });
      if (status === 'failed') mismatches.push({ reason: 'app_failed', appId: r.appId, appName: name, message: `The device did not install ${name} ${r.wantedVersion}: ${r.error?.message ?? r.commandStatus}`, ...(details ? { details } : {}) });
      else if (status === 'pending') mismatches.push({ reason: 'app_not_installed', appId: r.appId, appName: name, message: current ? `The install of ${name} ${r.wantedVersion} is on its way` : `${name} ${r.wantedVersion} is not installed yet` });
    } else if (!(r.action === 'remove' && r.commandStatus === 'succeeded')) {
      const failed = r.action === 'remove' && ended;
      mismatches.push({ reason: 'app_not_removed', appId: r.appId, appName: name, message: failed ? `The device did not remove ${name}: ${r.error?.message ?? r.commandStatus}` : `The removal of ${name} is on its way`, ...(details && failed ? { details } : {}) });
    }
  }
  return { apps, mismatches };
}

/** Whether the apps leave the device failed, waiting, or as assigned. */
export function appsStatus(view: AssignedAppsView): 'failed' | 'pending' | 'compliant' {
  if (view.apps.some((a) => a.status === 'failed') || view.mismatches.some((m) => m.reason === 'app_not_removed' && m.details)) return 'failed';
  return view.mismatches.length ? 'pending' : 'compliant';
}
