import QRCode from 'qrcode';
import { QR_EXTRAS, type ProvisioningQr } from '../../../agent-protocol/src';
import type { AgentPackage } from './enrollment.repository';

export interface WifiExtras {
  ssid: string;
  securityType?: 'NONE' | 'WPA' | 'WEP' | 'EAP';
  password?: string;
  hidden?: boolean;
}

const EXTRA = 'android.app.extra.';

/** The Android provisioning payload: what the setup wizard reads when the tablet scans the code. */
export function provisioningPayload(input: { agentPackage: AgentPackage; serverUrl: string; token: string; wifi?: WifiExtras }): ProvisioningQr {
  const { agentPackage, wifi } = input;
  const payload: Record<string, unknown> = {
    [`${EXTRA}PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME`]: agentPackage.componentName,
    [`${EXTRA}PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION`]: agentPackage.downloadUrl,
    [`${EXTRA}PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM`]: agentPackage.signatureChecksum,
  };
  if (wifi) {
    payload[`${EXTRA}PROVISIONING_WIFI_SSID`] = wifi.ssid;
    if (wifi.securityType) payload[`${EXTRA}PROVISIONING_WIFI_SECURITY_TYPE`] = wifi.securityType;
    if (wifi.password !== undefined) payload[`${EXTRA}PROVISIONING_WIFI_PASSWORD`] = wifi.password;
    if (wifi.hidden !== undefined) payload[`${EXTRA}PROVISIONING_WIFI_HIDDEN`] = wifi.hidden;
  }
  payload[`${EXTRA}PROVISIONING_ADMIN_EXTRAS_BUNDLE`] = {
    [QR_EXTRAS.SERVER_URL]: input.serverUrl.replace(/\/+$/, ''),
    [QR_EXTRAS.ENROLLMENT_TOKEN]: input.token,
  };
  return payload as ProvisioningQr;
}

/** Error correction M: the payload is a few hundred bytes and must stay scannable from paper. */
export async function renderQr(payload: ProvisioningQr, format: 'png' | 'svg'): Promise<Buffer | string> {
  const text = JSON.stringify(payload);
  if (format === 'svg') return QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });
  return QRCode.toBuffer(text, { type: 'png', errorCorrectionLevel: 'M', margin: 4, scale: 6 });
}
