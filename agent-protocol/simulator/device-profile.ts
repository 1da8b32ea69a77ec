import type { AppInfo, EnrollRequest, ReportApps, ReportInventory, ReportStatus } from '../src';

const MODELS = [
  { manufacturer: 'samsung', brand: 'samsung', model: 'SM-X210', android: '14', sdk: 34, storage: 128e9, ram: 8e9 },
  { manufacturer: 'samsung', brand: 'samsung', model: 'SM-T220', android: '13', sdk: 33, storage: 32e9, ram: 3e9 },
  { manufacturer: 'LENOVO', brand: 'Lenovo', model: 'TB-X606F', android: '11', sdk: 30, storage: 64e9, ram: 4e9 },
  { manufacturer: 'Xiaomi', brand: 'Redmi', model: '23073RPBFG', android: '14', sdk: 34, storage: 128e9, ram: 6e9 },
];

/** The simulated agent implements protocol 1.1; a test may lower `profile.agent` to play an older one. */
export const AGENT: { packageName: string; versionName: string; versionCode: number } = { packageName: 'fr.cartable.agent', versionName: '1.1.0', versionCode: 10100 };

const APPS: AppInfo[] = [
  { packageName: AGENT.packageName, versionName: AGENT.versionName, versionCode: AGENT.versionCode, label: 'Cartable', system: false, enabled: true },
  { packageName: 'org.geogebra.android', versionName: '5.2.870.0', versionCode: 52870000, label: 'GeoGebra', installer: 'fr.cartable.agent', system: false, enabled: true },
  { packageName: 'com.lalilo.app', versionName: '3.14.0', versionCode: 3140, label: 'Lalilo', installer: 'fr.cartable.agent', system: false, enabled: true },
  { packageName: 'org.scratch.scratchjr', versionName: '1.5.9', versionCode: 159, label: 'ScratchJr', installer: 'fr.cartable.agent', system: false, enabled: true },
  { packageName: 'com.android.chrome', versionName: '131.0.6778.81', versionCode: 677808133, label: 'Chrome', system: true, enabled: true },
  { packageName: 'com.google.android.apps.docs', versionName: '1.24.462', versionCode: 224620, label: 'Drive', system: true, enabled: false },
  { packageName: 'com.android.settings', versionName: '14', versionCode: 34, label: 'Settings', system: true, enabled: true },
];

/** A plausible school tablet, stable for a given index (serial, model, MAC). */
export function deviceProfile(index: number) {
  const m = MODELS[index % MODELS.length]!;
  const hex = (index + 0x1000).toString(16).padStart(6, '0');
  const serial = `R9TW${String(index).padStart(7, '0')}`;
  const wifiMac = `a4:c6:9a:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
  const hardware: EnrollRequest['hardware'] = {
    serial,
    manufacturer: m.manufacturer,
    model: m.model,
    brand: m.brand,
    androidVersion: m.android,
    sdkInt: m.sdk,
    securityPatch: '2026-10-01',
    wifiMac,
    totalStorageBytes: m.storage,
    totalRamBytes: m.ram,
  };
  let battery = 40 + (index % 60);
  return {
    hardware,
    agent: { ...AGENT },
    inventory(): ReportInventory {
      return {
        hardware,
        software: { androidVersion: m.android, sdkInt: m.sdk, securityPatch: '2026-10-01', agentVersionName: AGENT.versionName, agentVersionCode: AGENT.versionCode, kernel: '5.15.123-android14-11' },
        storage: { totalBytes: m.storage, freeBytes: Math.round(m.storage * 0.4) },
        memory: { totalBytes: m.ram },
        network: { wifiMac, ipAddresses: [`10.42.${(index >> 8) & 255}.${index & 255}`], ssid: 'ECOLE-PEDAGO' },
        management: { deviceOwner: true, kioskActive: false },
      };
    },
    apps(): ReportApps {
      return { full: true, apps: APPS };
    },
    status(): ReportStatus {
      battery = Math.max(5, battery - 1);
      return { batteryLevel: battery, charging: 'none', batteryHealth: 'good', storageFreeBytes: Math.round(m.storage * 0.4), wifi: { ssid: 'ECOLE-PEDAGO', rssi: -61 }, screenOn: true, uptimeSec: 8120 };
    },
    location() {
      return { lat: 45.18857 + (index % 100) / 1e4, lon: 5.72453, accuracyM: 14.5, provider: 'fused' as const, fixTime: new Date().toISOString(), batteryLevel: battery };
    },
  };
}
export type DeviceProfile = ReturnType<typeof deviceProfile>;
