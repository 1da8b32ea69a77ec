import { X509Certificate } from 'node:crypto';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { NeutralProfile, type GlobalProxy, type ProxySettings, type WifiNetwork } from './profile.schemas';

/** One thing wrong with a profile; `path` is a JSON Pointer (RFC 6901) to the faulty value. */
export interface ProfileProblem {
  path: string;
  message: string;
}

export type ProfileCheck = { ok: true; profile: NeutralProfile } | { ok: false; problems: ProfileProblem[] };

const checker = TypeCompiler.Compile(NeutralProfile);

/** Every problem of `value`: its shape first; the rules between fields once the shape holds. */
export function validate(value: unknown): ProfileProblem[] {
  if (!checker.Check(value)) return shapeProblems(value);
  return ruleProblems(value);
}

export function checkProfile(value: unknown): ProfileCheck {
  const problems = validate(value);
  return problems.length ? { ok: false, problems } : { ok: true, profile: value as NeutralProfile };
}

/**
 * TypeBox reports a failed union once per branch, plus the union itself; one line per path is
 * what a person can act on, so the union's own message is kept when there is one.
 */
function shapeProblems(value: unknown): ProfileProblem[] {
  const byPath = new Map<string, string>();
  for (const error of checker.Errors(value)) {
    const path = error.path || '/';
    const message = error.schema.description && /union/i.test(error.message) ? `${error.message}: ${error.schema.description}` : error.message;
    if (!byPath.has(path) || /union/i.test(error.message)) byPath.set(path, message);
  }
  return [...byPath].map(([path, message]) => ({ path, message }));
}

function ruleProblems(profile: NeutralProfile): ProfileProblem[] {
  const problems: ProfileProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  const certificateIds = new Set<string>();

  profile.certificates?.forEach((certificate, i) => {
    if (certificateIds.has(certificate.id)) add(`/certificates/${i}/id`, `duplicate certificate id "${certificate.id}"`);
    certificateIds.add(certificate.id);
    const pemProblem = certificateProblem(certificate.pem);
    if (pemProblem) add(`/certificates/${i}/pem`, pemProblem);
  });

  const ssids = new Set<string>();
  profile.wifi?.forEach((network, i) => {
    const at = `/wifi/${i}`;
    if (ssids.has(network.ssid)) add(`${at}/ssid`, `duplicate network "${network.ssid}"`);
    ssids.add(network.ssid);
    if (Buffer.byteLength(network.ssid, 'utf8') > 32) add(`${at}/ssid`, 'must be at most 32 bytes in UTF-8');
    wifiSecurityProblems(network, at, certificateIds, add);
    if (network.proxy) proxyProblems(network.proxy, `${at}/proxy`, add);
  });

  if (profile.proxy) proxyProblems(profile.proxy, '/proxy', add);

  const filter = profile.webFilter;
  if (filter?.mode === 'deny_list') {
    if (!filter.denyList) add('/webFilter/denyList', 'is required when mode is deny_list');
    if (filter.allowList) add('/webFilter/allowList', 'is only used when mode is allow_list_only');
  }
  if (filter?.mode === 'allow_list_only') {
    if (!filter.allowList) add('/webFilter/allowList', 'is required when mode is allow_list_only');
    if (filter.denyList) add('/webFilter/denyList', 'is only used when mode is deny_list');
  }

  if (profile.kiosk && !Object.values(profile.kiosk.apps).some(Boolean)) add('/kiosk/apps', 'names no app: give at least one of ios, android, windows');

  const passcode = profile.passcode;
  if (passcode && !passcode.required) {
    for (const field of ['minLength', 'kind', 'maxInactivityMinutes'] as const) {
      if (passcode[field] !== undefined) add(`/passcode/${field}`, 'is only used when required is true');
    }
  }
  return problems;
}

type Add = (path: string, message: string) => void;

function wifiSecurityProblems(network: WifiNetwork, at: string, certificateIds: Set<string>, add: Add): void {
  const personal = network.security === 'wpa2' || network.security === 'wpa3';
  if (personal && network.password === undefined) add(`${at}/password`, `is required for security ${network.security}`);
  if (!personal && network.password !== undefined) add(`${at}/password`, `is not used with security ${network.security}${network.security === 'eap' ? ' (the password goes in eap)' : ''}`);
  if (network.security === 'eap' && !network.eap) add(`${at}/eap`, 'is required for security eap');
  if (network.security !== 'eap' && network.eap) add(`${at}/eap`, `is only used with security eap, not ${network.security}`);
  network.eap?.caCertificates.forEach((ref, j) => {
    if (!certificateIds.has(ref)) add(`${at}/eap/caCertificates/${j}`, `no certificate with id "${ref}" in certificates`);
  });
}

function proxyProblems(proxy: ProxySettings | GlobalProxy, at: string, add: Add): void {
  const manual = proxy.host !== undefined || proxy.port !== undefined;
  if (manual && proxy.pacUrl !== undefined) add(`${at}/pacUrl`, 'give host and port, or pacUrl, not both');
  else if (!manual && proxy.pacUrl === undefined) add(at, 'give host and port, or pacUrl');
  else if (manual && proxy.host === undefined) add(`${at}/host`, 'is required with port');
  else if (manual && proxy.port === undefined) add(`${at}/port`, 'is required with host');
}

function certificateProblem(pem: string): string | null {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  if (blocks !== 1) return blocks ? 'must hold exactly one certificate' : 'is not a PEM certificate';
  try {
    const certificate = new X509Certificate(pem);
    return certificate.ca ? null : 'is not a CA certificate (basicConstraints CA:TRUE)';
  } catch {
    return 'cannot be read as an X.509 certificate';
  }
}
