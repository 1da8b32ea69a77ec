/** Device vocabulary shared by every platform. */
export const PLATFORMS = ['android', 'ios', 'windows'] as const;
export type Platform = (typeof PLATFORMS)[number];

/**
 * How a device is managed when it is not its platform's own protocol (null: Cartable's agent on
 * Android, Apple MDM on iPad, OMA-DM on Windows). `amapi`: an Android tablet whose device owner is
 * Google's Android Device Policy, managed through the Android Management API.
 */
export const DEVICE_CHANNELS = ['amapi'] as const;
export type DeviceChannel = (typeof DEVICE_CHANNELS)[number];

export const DEVICE_STATUSES = ['active', 'wiped', 'retired'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

/** A device as an edge knows it once its credential has been checked. */
export interface DeviceIdentity {
  deviceId: string;
  organisationId: string;
  schoolId: string;
  platform: Platform;
  fingerprintSha256: string;
  /** The public key of the certificate it authenticated with (SubjectPublicKeyInfo DER, base64). */
  publicKeySpki?: string;
}

/** A position as reported by a device: optional measures are null when the device gave none. */
export interface LocationFix {
  lat: number;
  lon: number;
  accuracyM: number;
  altitudeM: number | null;
  speedMps: number | null;
  bearingDeg: number | null;
  provider: string;
  fixTime: Date;
  /** `fixTime` comes from a device clock never compared with the server's. */
  timeUnverified?: boolean;
}
