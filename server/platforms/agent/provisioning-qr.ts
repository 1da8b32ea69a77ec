import { QR_EXTRAS, type ProvisioningQr } from '../../../agent-protocol/src';
import type { ProvisioningInput } from '../../modules/enrollment/enrollment.service';

const EXTRA = 'android.app.extra.';

/**
 * The Android provisioning payload: what the setup wizard reads when the tablet scans the code
 * (agent protocol §6).
 */
export function provisioningPayload(serverUrl: string, input: ProvisioningInput): ProvisioningQr {
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
    [QR_EXTRAS.SERVER_URL]: serverUrl.replace(/\/+$/, ''),
    [QR_EXTRAS.ENROLLMENT_TOKEN]: input.token,
  };
  return payload as ProvisioningQr;
}
