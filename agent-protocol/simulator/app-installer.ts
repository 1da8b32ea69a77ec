import { createHash } from 'node:crypto';
import type { AppInfo, CommandParamsOf, CommandResult, ReportApps } from '../src';
import type { AgentState } from './state';

type Outcome = Pick<CommandResult, 'status' | 'result' | 'error'>;
const invalid = (message: string): Outcome => ({ status: 'failed', error: { code: 'INVALID_VALUE', message } });

/**
 * The agent's side of §24.2, without Android: the APK is downloaded and checked as a real agent
 * checks it (size, SHA-256), then "installed" into the simulator's list of apps. What only
 * PackageManager can do (reading the APK's own signer) is not simulated: the listed
 * `signingCertSha256` is taken as said.
 */
export async function installApp(state: AgentState, baseline: readonly AppInfo[], params: CommandParamsOf<'install_app'>): Promise<Outcome> {
  const current = appsOf(state, baseline).find((a) => a.packageName === params.packageName);
  if (current?.versionCode === params.versionCode) return { status: 'succeeded', result: { versionCode: params.versionCode } };
  if (current && (current.versionCode ?? 0) > params.versionCode) return invalid(`Installed versionCode ${current.versionCode} is higher than ${params.versionCode}: no downgrades.`);
  let response: Response;
  try {
    response = await fetch(params.url);
  } catch (e) {
    return { status: 'failed', error: { code: 'UNKNOWN', message: `Download failed: ${(e as Error).message}` } };
  }
  if (!response.ok || !response.body) return { status: 'failed', error: { code: 'UNKNOWN', message: `Download refused: HTTP ${response.status}` } };
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (params.sizeBytes !== undefined && size > params.sizeBytes) return invalid(`The download is larger than the ${params.sizeBytes} bytes announced.`);
    hash.update(chunk);
  }
  if (params.sizeBytes !== undefined && size !== params.sizeBytes) return invalid(`The download is ${size} bytes, ${params.sizeBytes} were announced.`);
  const digest = hash.digest('hex');
  if (digest !== params.sha256.toLowerCase()) return invalid(`SHA-256 mismatch: got ${digest}, expected ${params.sha256}.`);
  state.installedApps = [
    ...(state.installedApps ?? []).filter((a) => a.packageName !== params.packageName),
    { packageName: params.packageName, versionName: String(params.versionCode), versionCode: params.versionCode, label: params.packageName, installer: 'fr.cartable.agent', system: false, enabled: true },
  ];
  state.removedApps = (state.removedApps ?? []).filter((p) => p !== params.packageName);
  return { status: 'succeeded', result: { versionCode: params.versionCode } };
}

/** §13.1 `remove_app`: a package not installed is already removed. */
export function removeApp(state: AgentState, baseline: readonly AppInfo[], params: CommandParamsOf<'remove_app'>, ownPackage: string): Outcome {
  const current = appsOf(state, baseline).find((a) => a.packageName === params.packageName);
  if (params.packageName === ownPackage || current?.system) return invalid(`${params.packageName} cannot be removed.`);
  if (!current) return { status: 'succeeded' };
  state.installedApps = (state.installedApps ?? []).filter((a) => a.packageName !== params.packageName);
  if (baseline.some((a) => a.packageName === params.packageName)) state.removedApps = [...(state.removedApps ?? []), params.packageName];
  return { status: 'succeeded' };
}

/** The device's apps: the profile's, less those removed, with those installed by commands over them. */
export function appsOf(state: AgentState, baseline: readonly AppInfo[]): AppInfo[] {
  const installed = state.installedApps ?? [];
  const gone = new Set([...(state.removedApps ?? []), ...installed.map((a) => a.packageName)]);
  return [...baseline.filter((a) => !gone.has(a.packageName)), ...installed];
}

export function appsReport(state: AgentState, baseline: ReportApps): ReportApps {
  return { full: true, apps: appsOf(state, baseline.apps) };
}
