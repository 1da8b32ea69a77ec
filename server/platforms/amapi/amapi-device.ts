import type { androidmanagement_v1 } from 'googleapis';
import type { DecodedDevice, Json } from '../../modules/amapi/amapi.port';

type Device = androidmanagement_v1.Schema$Device;

const num = (value: unknown): number | null => {
  const n = typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : NaN;
  return Number.isFinite(n) ? n : null;
};

/** The newest event of a kind, by its time. */
function latest<T extends { createTime?: string | null; eventType?: string | null }>(events: T[] | undefined, type: string): T | undefined {
  return (events ?? [])
    .filter((e) => e.eventType === type)
    .sort((a, b) => (a.createTime ?? '').localeCompare(b.createTime ?? ''))
    .pop();
}

/**
 * A `Device` resource as Cartable's neutral reports. Sections Google did not send (the policy
 * did not ask for them, or a report was partial) stay null: nothing is invented or cleared.
 */
export function decodeDevice(json: Json): DecodedDevice {
  const d = json as Device;
  const hw = d.hardwareInfo ?? {};
  const sw = d.softwareInfo ?? {};
  const battery = latest(d.powerManagementEvents ?? undefined, 'BATTERY_LEVEL_COLLECTED');
  const storageTotal = num(d.memoryInfo?.totalInternalStorage);
  const storageMeasured = latest(d.memoryEvents ?? undefined, 'INTERNAL_STORAGE_MEASURED');
  const storageFree = num(storageMeasured?.byteCount);
  const apps = d.applicationReports?.map((a) => ({
    identifier: a.packageName ?? '',
    name: a.displayName ?? null,
    version: a.versionName ?? null,
    versionCode: num(a.versionCode),
    installer: a.installerPackageName ?? null,
    system: a.applicationSource === 'SYSTEM_APP_FACTORY_VERSION' || a.applicationSource === 'SYSTEM_APP_UPDATED_VERSION',
    state: a.state,
  }));
  return {
    name: d.name ?? '',
    previousNames: d.previousDeviceNames ?? [],
    state: d.appliedState ?? d.state ?? 'ACTIVE',
    serial: hw.serialNumber ?? null,
    enrollmentTokenData: d.enrollmentTokenData ?? null,
    inventory: {
      serial: hw.serialNumber ?? null,
      imei: null,
      manufacturer: hw.manufacturer ?? hw.brand ?? 'unknown',
      model: hw.model ?? 'unknown',
      osVersion: sw.androidVersion ?? 'unknown',
      agentVersion: sw.androidDevicePolicyVersionName ?? null,
      managementMode: d.managementMode === 'PROFILE_OWNER' ? 'profile_owner' : 'device_owner',
      storageTotalBytes: storageTotal,
      storageFreeBytes: storageFree,
      facts: {
        hardware: { brand: hw.brand ?? null, hardware: hw.hardware ?? null, apiLevel: d.apiLevel ?? null, totalRamBytes: num(d.memoryInfo?.totalRam) },
        software: {
          securityPatchLevel: sw.securityPatchLevel ?? null,
          buildNumber: sw.androidBuildNumber ?? null,
          devicePolicyVersion: sw.androidDevicePolicyVersionName ?? null,
          updateStatus: sw.systemUpdateInfo?.updateStatus ?? null,
        },
        management: {
          channel: 'amapi',
          googleName: d.name ?? null,
          state: d.state ?? null,
          ownership: d.ownership ?? null,
          policyCompliant: d.policyCompliant ?? null,
          appliedPolicyVersion: num(d.appliedPolicyVersion),
          lastStatusReportTime: d.lastStatusReportTime ?? null,
          lastPolicySyncTime: d.lastPolicySyncTime ?? null,
        },
        security: d.deviceSettings ? { encrypted: d.deviceSettings.isEncrypted ?? null, secure: d.deviceSettings.isDeviceSecure ?? null, developerSettings: d.deviceSettings.developmentSettingsEnabled ?? null, unknownSources: d.deviceSettings.unknownSourcesEnabled ?? null } : {},
      },
    },
    status: battery || storageFree !== null ? { batteryLevel: num(battery?.batteryLevel), charging: null, storageFreeBytes: storageFree, facts: {}, network: null } : null,
    apps: apps
      ? {
          full: true,
          apps: apps.filter((a) => a.identifier && a.state !== 'REMOVED').map(({ state: _state, ...app }) => app),
          removed: apps.filter((a) => a.identifier && a.state === 'REMOVED').map((a) => a.identifier),
        }
      : null,
    policyName: d.policyName ?? null,
    appliedPolicyName: d.appliedPolicyName ?? null,
    appliedPolicyVersion: num(d.appliedPolicyVersion),
    policyCompliant: d.policyCompliant ?? null,
    nonCompliance: (d.nonComplianceDetails ?? []).map((n) => ({ fieldPath: n.fieldPath ?? n.settingName ?? '', reason: n.nonComplianceReason ?? 'UNKNOWN' })),
  };
}
