/** Reports: agent → server, each answered by an `ack` whose `ref` is the report's id. */
import { Type, type Static } from '@sinclair/typebox';
import {
  DateTime,
  FreeObject,
  Hardware,
  LocationFixProperties,
  NonEmptyString,
  NonNegInt,
  Obj,
  Percent,
  Uuid,
} from './common';

/** Why the SSID of the current Wi-Fi network is not reported (README §12.6). Open vocabulary. */
export const SSID_UNAVAILABLE_REASONS = ['location_off', 'permission_missing', 'unknown'] as const;
function SsidUnavailable() {
  return Type.String({
    minLength: 1,
    maxLength: 64,
    description: 'Why the SSID is not reported: location_off, permission_missing or unknown (open vocabulary).',
  });
}

export const ReportInventory = Obj(
  {
    hardware: Hardware,
    software: Obj({
      androidVersion: Type.String(),
      sdkInt: Type.Integer({ minimum: 1, maximum: 1000 }),
      securityPatch: Type.String({ description: '"YYYY-MM-DD"' }),
      agentVersionName: Type.String(),
      agentVersionCode: NonNegInt(),
      bootloader: Type.Optional(Type.String()),
      kernel: Type.Optional(Type.String()),
    }),
    storage: Obj({ totalBytes: NonNegInt(), freeBytes: NonNegInt() }),
    memory: Obj({ totalBytes: NonNegInt() }),
    network: Obj({
      wifiMac: Type.Optional(Type.String()),
      ipAddresses: Type.Optional(Type.Array(Type.String(), { maxItems: 64 })),
      ssid: Type.Optional(Type.String()),
      ssidUnavailable: Type.Optional(SsidUnavailable()),
      imei: Type.Optional(Type.String()),
    }),
    management: Obj({
      deviceOwner: Type.Boolean({ description: 'The agent is the device owner.' }),
      kioskActive: Type.Boolean({ description: 'Lock task (kiosk) mode is active.' }),
    }),
  },
  { title: 'report.inventory' },
);
export type ReportInventory = Static<typeof ReportInventory>;

export const AppInfo = Obj(
  {
    packageName: NonEmptyString(),
    versionName: Type.String(),
    versionCode: NonNegInt(),
    label: Type.Optional(Type.String()),
    installer: Type.Optional(Type.String({ description: 'Installer package name, if any.' })),
    system: Type.Boolean({ description: 'Part of the system image (FLAG_SYSTEM).' }),
    enabled: Type.Optional(Type.Boolean()),
    signingCertSha256: Type.Optional(
      Type.Array(Type.String({ pattern: '^[0-9a-fA-F]{64}$' }), { description: 'Lowercase hex SHA-256 of each signing certificate.' }),
    ),
  },
  { title: 'AppInfo' },
);
export type AppInfo = Static<typeof AppInfo>;

export const ReportApps = Obj(
  {
    full: Type.Boolean({ description: 'true: `apps` is the complete list. false: a delta.' }),
    apps: Type.Array(AppInfo, { description: 'Complete list (full) or installed/updated apps (delta).' }),
    removed: Type.Optional(Type.Array(NonEmptyString(), { description: 'Delta only: package names removed.' })),
  },
  { title: 'report.apps' },
);
export type ReportApps = Static<typeof ReportApps>;

export const ReportStatus = Obj(
  {
    batteryLevel: Percent(),
    charging: Type.Union([Type.Literal('ac'), Type.Literal('usb'), Type.Literal('wireless'), Type.Literal('none')]),
    batteryHealth: Type.Optional(
      Type.String({ description: 'good, overheat, dead, over_voltage, cold, failure or unknown.' }),
    ),
    storageFreeBytes: NonNegInt(),
    ramFreeBytes: Type.Optional(NonNegInt()),
    wifi: Type.Optional(
      Obj({
        ssid: Type.String({ description: 'SSID without quotes; "" when it cannot be read (then ssidUnavailable says why).' }),
        rssi: Type.Integer({ description: 'dBm' }),
        ssidUnavailable: Type.Optional(SsidUnavailable()),
      }),
    ),
    screenOn: Type.Optional(Type.Boolean()),
    uptimeSec: Type.Optional(NonNegInt()),
  },
  { title: 'report.status' },
);
export type ReportStatus = Static<typeof ReportStatus>;

/** Well-known event kinds. The vocabulary is open: servers store unknown kinds as-is. */
export const EVENT_KINDS = [
  'boot',
  'shutdown',
  'enrollment_complete',
  'app_install_result',
  'app_remove_result',
  'kiosk_exit',
  'lost_mode_exit',
] as const;

export const DeviceEvent = Obj(
  {
    kind: NonEmptyString('Event kind, e.g. "boot" (see EVENT_KINDS).'),
    at: DateTime('When the event happened, on the server clock when known (README §21).'),
    data: Type.Optional(FreeObject('Kind-specific details.')),
    timeUnverified: Type.Optional(
      Type.Boolean({ description: 'true: `at` is the raw device clock, never compared with the server clock (README §21).' }),
    ),
  },
  { title: 'DeviceEvent' },
);
export type DeviceEvent = Static<typeof DeviceEvent>;

export const ReportEvents = Obj(
  {
    events: Type.Array(DeviceEvent, { minItems: 1, description: 'Oldest first.' }),
  },
  { title: 'report.events' },
);
export type ReportEvents = Static<typeof ReportEvents>;

export const ReportLocation = Obj(
  {
    ...LocationFixProperties,
    commandId: Type.Optional(Uuid('The locate / lost_mode_on command that allows this report.')),
  },
  { title: 'report.location' },
);
export type ReportLocation = Static<typeof ReportLocation>;

/** Report kinds a `report.request` can ask for. Open vocabulary: agents ignore kinds they do not know. */
export const REQUESTABLE_REPORTS = ['inventory', 'apps', 'status'] as const;

/** Server → agent: send fresh full reports (e.g. after a sequence gap). The agent answers `ack`. */
export const ReportRequest = Obj(
  {
    kinds: Type.Array(NonEmptyString(), { minItems: 1, maxItems: 16, description: 'inventory, apps (a full list) or status.' }),
    reason: Type.Optional(Type.String({ maxLength: 64, description: 'Informative: sequence_gap, invalid_report, operator, ...' })),
  },
  { title: 'report.request' },
);
export type ReportRequest = Static<typeof ReportRequest>;
