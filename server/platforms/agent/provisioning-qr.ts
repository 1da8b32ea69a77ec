import { QR_EXTRAS, type ProvisioningQr } from '../../../agent-protocol/src';
import { InvalidInputError } from '../../domain/errors';
import type { ProvisioningInput, WifiExtras } from '../../modules/enrollment/enrollment.service';

const EXTRA = 'android.app.extra.';

/** The Wi-Fi keys, in Android's names; `undefined` values are left out. */
function wifiExtras(wifi: WifiExtras): Record<string, unknown> {
  if (wifi.securityType === 'EAP' && !wifi.eapMethod) throw new InvalidInputError('An EAP network needs its eapMethod.', 'wifi_eap_method_missing');
  if (wifi.eapMethod && wifi.securityType !== 'EAP') throw new InvalidInputError('eapMethod goes with securityType EAP.', 'wifi_eap_method_unexpected');
  // Without a domain the tablet would trust any server the CA certified.
  if (wifi.caCertificate && !wifi.domain) throw new InvalidInputError('A CA certificate needs the domain the RADIUS server must match.', 'wifi_domain_missing');
  if ((wifi.proxyHost === undefined) !== (wifi.proxyPort === undefined)) throw new InvalidInputError('proxyHost and proxyPort go together.', 'wifi_proxy_incomplete');
  if (wifi.pacUrl && wifi.proxyHost) throw new InvalidInputError('Give either a proxy host and port, or a PAC URL.', 'wifi_proxy_conflict');
  return {
    PROVISIONING_WIFI_SSID: wifi.ssid,
    PROVISIONING_WIFI_SECURITY_TYPE: wifi.securityType,
    PROVISIONING_WIFI_PASSWORD: wifi.password,
    PROVISIONING_WIFI_HIDDEN: wifi.hidden,
    PROVISIONING_WIFI_EAP_METHOD: wifi.eapMethod,
    PROVISIONING_WIFI_PHASE2_AUTH: wifi.phase2Auth,
    PROVISIONING_WIFI_IDENTITY: wifi.identity,
    PROVISIONING_WIFI_ANONYMOUS_IDENTITY: wifi.anonymousIdentity,
    PROVISIONING_WIFI_DOMAIN: wifi.domain,
    PROVISIONING_WIFI_CA_CERTIFICATE: wifi.caCertificate,
    PROVISIONING_WIFI_PROXY_HOST: wifi.proxyHost,
    PROVISIONING_WIFI_PROXY_PORT: wifi.proxyPort,
    PROVISIONING_WIFI_PROXY_BYPASS: wifi.proxyBypass,
    PROVISIONING_WIFI_PAC_URL: wifi.pacUrl,
  };
}

/**
 * The Android provisioning payload: what the setup wizard reads when the tablet scans the code
 * (agent protocol §6).
 */
export function provisioningPayload(serverUrl: string, input: ProvisioningInput): ProvisioningQr {
  const { agentPackage, extras } = input;
  const keys: Record<string, unknown> = {
    PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME: agentPackage.componentName,
    PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION: agentPackage.downloadUrl,
    PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM: agentPackage.signatureChecksum,
    ...(extras.wifi ? wifiExtras(extras.wifi) : {}),
    PROVISIONING_LOCALE: extras.locale,
    PROVISIONING_TIME_ZONE: extras.timeZone,
    PROVISIONING_USE_MOBILE_DATA: extras.useMobileData,
    PROVISIONING_ALLOW_OFFLINE: extras.allowOffline,
    PROVISIONING_LEAVE_ALL_SYSTEM_APPS_ENABLED: extras.leaveAllSystemAppsEnabled,
  };
  const payload: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(keys)) if (value !== undefined) payload[`${EXTRA}${key}`] = value;
  payload[`${EXTRA}PROVISIONING_ADMIN_EXTRAS_BUNDLE`] = {
    [QR_EXTRAS.SERVER_URL]: serverUrl.replace(/\/+$/, ''),
    [QR_EXTRAS.ENROLLMENT_TOKEN]: input.token,
    // Android reads this one from the agent, which returns it from its provisioning-mode screen.
    ...(extras.skipEducationScreens ? { [QR_EXTRAS.SKIP_EDUCATION_SCREENS]: 'true' } : {}),
  };
  return payload as ProvisioningQr;
}
