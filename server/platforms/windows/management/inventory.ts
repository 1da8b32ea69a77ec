import type { InventoryReport, StatusReport } from '../../../domain/platform-ports';
import { INVENTORY_NODES } from '../windows-commands';

const MB = 1024 * 1024;

const integer = (value: string | undefined): number | null => {
  if (value === undefined || !/^\d{1,15}$/.test(value.trim())) return null;
  return Number.parseInt(value, 10);
};

/** DeviceStatus/Battery/Status (Win32_Battery BatteryStatus): 2 is on mains, 6 to 9 charging. */
const charging = (status: number | null): string | null => (status === null ? null : [2, 6, 7, 8, 9].includes(status) ? 'charging' : 'discharging');

/**
 * A refresh's Results (node → value) and the session's DevInfo as the neutral inventory. Values
 * the device did not give stay null; nothing here is a position.
 */
export function inventoryReport(results: Record<string, string>, devInfo: Record<string, string>): { inventory: InventoryReport; status: StatusReport } {
  const v = (key: keyof typeof INVENTORY_NODES) => {
    const value = results[INVENTORY_NODES[key]];
    return value === undefined || value === '' ? undefined : value;
  };
  const totalMb = integer(v('totalStorageMb'));
  const freeMb = integer(v('freeStorageMb'));
  const battery = integer(v('batteryCharge'));
  const inventory: InventoryReport = {
    serial: v('serial') ?? null,
    imei: null,
    manufacturer: devInfo.Man || v('oem') || 'unknown',
    model: devInfo.Mod || 'Windows',
    osVersion: v('osVersion') ?? 'unknown',
    agentVersion: null,
    managementMode: 'mdm',
    storageTotalBytes: totalMb === null ? null : totalMb * MB,
    storageFreeBytes: freeMb === null ? null : freeMb * MB,
    facts: {
      hardware: { deviceType: v('deviceType') ?? null, totalRamMb: integer(v('totalRamMb')), oem: v('oem') ?? null },
      software: { edition: v('edition') ?? null, osPlatform: v('osPlatform') ?? null, language: devInfo.Lang ?? null, dmVersion: devInfo.DmV ?? null, deviceName: v('deviceName') ?? null },
      management: { windowsDeviceId: devInfo.DevId ?? null },
      network: { wlanMac: v('wlanMac') ?? null },
      security: { encryptionCompliance: integer(v('encryption')), secureBootState: integer(v('secureBoot')) },
    },
  };
  const status: StatusReport = {
    batteryLevel: battery !== null && battery <= 100 ? battery : null,
    charging: charging(integer(v('batteryStatus'))),
    storageFreeBytes: inventory.storageFreeBytes,
    facts: {},
    network: null,
  };
  return { inventory, status };
}
