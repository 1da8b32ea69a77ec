import type { LocationFix } from '../../../domain/devices';
import type { AppsReport, CommandOutcome, InventoryReport, StatusReport } from '../../../domain/platform-ports';
import { DEFAULT_IDENTIFIER_PREFIX } from '../profiles/mobileconfig.compiler';
import { bool, dict, num, str, toJson, type PlistDict } from './apple-plist';

export const REPORT_STATUSES = ['Idle', 'Acknowledged', 'Error', 'CommandFormatError', 'NotNow'] as const;
export type ReportStatus = (typeof REPORT_STATUSES)[number];

/** What a device's report carries besides the outcome: facts about the device itself. */
export interface ReportFacts {
  inventory: InventoryReport | null;
  status: StatusReport | null;
  supervised: boolean | null;
  apps: AppsReport | null;
}

const PROFILE_PREFIX = `${DEFAULT_IDENTIFIER_PREFIX}.`;

/** The neutral profile a listed identifier names, when Cartable installed it (`fr.cartable.profile.{id}`). */
function profileIdOf(identifier: string | null): string | null {
  return identifier?.startsWith(PROFILE_PREFIX) && !identifier.slice(PROFILE_PREFIX.length).includes('.') ? identifier.slice(PROFILE_PREFIX.length) : null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_APPS = 5000;

export function isCommandUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** The first error of the chain, as the queue stores it. */
function errorOf(report: PlistDict, status: ReportStatus): { code: string; message: string } {
  const chain = Array.isArray(report.ErrorChain) ? report.ErrorChain.map(dict).filter((d) => d !== null) : [];
  const first = chain[0];
  if (!first) return { code: status === 'CommandFormatError' ? 'command_format_error' : 'device_error', message: status };
  const domain = str(first.ErrorDomain) ?? 'unknown';
  const code = num(first.ErrorCode);
  return { code: `${domain}:${code ?? '?'}`.slice(0, 200), message: (str(first.USEnglishDescription) ?? str(first.LocalizedDescription) ?? status).slice(0, 2000) };
}

/** DeviceLocation's answer; only reached when the device is in lost mode. */
function locationOf(report: PlistDict): LocationFix | null {
  const lat = num(report.Latitude);
  const lon = num(report.Longitude);
  if (lat === null || lon === null || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  const accuracy = num(report.HorizontalAccuracy);
  const timestamp = str(report.Timestamp);
  const at = timestamp ? new Date(timestamp) : new Date();
  return {
    lat,
    lon,
    accuracyM: accuracy !== null && accuracy >= 0 ? accuracy : 0,
    altitudeM: num(report.Altitude),
    speedMps: num(report.Speed),
    bearingDeg: num(report.Course),
    provider: 'apple',
    fixTime: Number.isNaN(at.getTime()) ? new Date() : at,
    timeUnverified: timestamp !== null,
  };
}

/** QueryResponses of DeviceInformation, in neutral columns; unknown or mistyped values are left out. */
function inventoryOf(q: PlistDict): Pick<ReportFacts, 'inventory' | 'status' | 'supervised'> {
  const capacityGb = num(q.DeviceCapacity);
  const availableGb = num(q.AvailableDeviceCapacity);
  const gb = (v: number | null) => (v === null ? null : Math.round(v * 1e9));
  const battery = num(q.BatteryLevel);
  const supervised = bool(q.IsSupervised);
  const inventory: InventoryReport = {
    serial: str(q.SerialNumber),
    imei: str(q.IMEI),
    manufacturer: 'Apple',
    model: str(q.ProductName) ?? str(q.ModelName) ?? 'iPad',
    osVersion: str(q.OSVersion) ?? 'unknown',
    agentVersion: null,
    managementMode: supervised ? 'supervised' : 'unsupervised',
    storageTotalBytes: gb(capacityGb),
    storageFreeBytes: gb(availableGb),
    facts: {
      hardware: { modelName: str(q.ModelName), model: str(q.Model), productName: str(q.ProductName), udid: str(q.UDID), deviceName: str(q.DeviceName) },
      software: { osVersion: str(q.OSVersion), buildVersion: str(q.BuildVersion) },
      management: { supervised, activationLock: bool(q.IsActivationLockEnabled), lostMode: bool(q.IsMDMLostModeEnabled) },
      network: { wifiMac: str(q.WiFiMAC), bluetoothMac: str(q.BluetoothMAC) },
    },
  };
  const status: StatusReport | null =
    battery === null ? null : { batteryLevel: battery >= 0 && battery <= 1 ? Math.round(battery * 100) : null, charging: null, storageFreeBytes: gb(availableGb), facts: {}, network: null };
  return { inventory, status, supervised };
}

function appsOf(list: unknown[]): AppsReport | null {
  if (list.length > MAX_APPS) return null;
  const apps: AppsReport['apps'] = [];
  for (const item of list) {
    const app = dict(item as PlistDict);
    const identifier = app && str(app.Identifier);
    if (!app || !identifier) continue;
    apps.push({ identifier: identifier.slice(0, 255), name: str(app.Name), version: str(app.ShortVersion) ?? str(app.Version), versionCode: null, installer: 'apple', system: false });
  }
  return { full: true, apps, removed: [] };
}

/**
 * A device's report as an outcome for the queue, and the facts it carries. `Acknowledged` is a
 * result on Apple's side: the command succeeded. The raw report is always kept; a result that
 * does not read as expected leaves `result` null rather than blocking the queue.
 */
export function decodeReport(report: PlistDict, status: Exclude<ReportStatus, 'Idle'>, commandId: string): { outcome: CommandOutcome; facts: ReportFacts } {
  const facts: ReportFacts = { inventory: null, status: null, supervised: null, apps: null };
  const raw = toJson(report);
  if (status === 'NotNow') return { outcome: { commandId, status: 'not_now', raw }, facts };
  if (status === 'Error' || status === 'CommandFormatError') return { outcome: { commandId, status: 'failed', error: errorOf(report, status), raw }, facts };

  let result: Record<string, unknown> | null = {};
  let location: LocationFix | null = null;
  const queries = dict(report.QueryResponses);
  if (report.QueryResponses !== undefined) {
    if (queries) Object.assign(facts, inventoryOf(queries));
    result = queries ? { queries: Object.keys(queries).length } : null;
  }
  if (report.InstalledApplicationList !== undefined) {
    facts.apps = Array.isArray(report.InstalledApplicationList) ? appsOf(report.InstalledApplicationList) : null;
    result = facts.apps ? { apps: facts.apps.apps.length } : null;
  }
  if (report.ProfileList !== undefined) {
    const profiles = Array.isArray(report.ProfileList) ? report.ProfileList.map(dict).filter((d) => d !== null) : null;
    result = profiles ? { profiles: profiles.map((d) => ({ identifier: str(d.PayloadIdentifier), name: str(d.PayloadDisplayName), profileId: profileIdOf(str(d.PayloadIdentifier)) })) } : null;
  }
  if (report.State !== undefined) {
    // InstallApplication's answer: the install is under way (or done) as the iPad says.
    result = { identifier: str(report.Identifier), state: str(report.State) };
  }
  if (report.Latitude !== undefined || report.Longitude !== undefined) {
    location = locationOf(report);
    result = location ? {} : null;
  }
  return { outcome: { commandId, status: 'succeeded', result, location, raw }, facts };
}
