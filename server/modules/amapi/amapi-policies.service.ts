import { createHash } from 'node:crypto';
import type { DesiredStatePort } from '../../domain/platform-ports';
import type { Db } from '../../infra/db/client';
import type { AmapiBindingService } from './amapi-binding.service';
import { AmapiCallError, type DecodedDevice, type Json } from './amapi.port';
import * as repo from './amapi.repository';

export interface AmapiPoliciesDeps {
  db: Db;
  binding: AmapiBindingService;
  desiredState: Pick<DesiredStatePort, 'current' | 'applied'>;
  /** The agent policy of a desired state as an AMAPI policy (the platform's pure compiler). */
  toPolicy(agentPolicy: Json): Json;
}

/** Keys in a stable order, so equal contents hash equally. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Json)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The tablet's own catalog apps over its profiles' applications, by package (the tablet's choice wins). */
function withApps(base: Json, apps: Json[]): Json {
  if (!apps.length) return base;
  const byPackage = new Map<string, Json>(((base.applications as Json[] | undefined) ?? []).map((a) => [String(a.packageName), a]));
  for (const app of apps) byPackage.set(String(app.packageName), app);
  return { ...base, applications: [...byPackage.values()].sort((a, b) => String(a.packageName).localeCompare(String(b.packageName))) };
}

/**
 * One Google policy per distinct content, shared by every tablet whose profiles and apps
 * compile to it, and patched once: a new content is a new policy, so a policy Google refused
 * never blocks a corrected one. Google recommends a policy per device; sharing keeps a change
 * for 500 tablets to one patch plus one `devices.patch` per tablet.
 */
export function createAmapiPoliciesService(deps: AmapiPoliciesDeps) {
  const { db } = deps;
  const emptyPolicy = () => deps.toPolicy({});

  /** The policy of this content exists at Google; its name. Throws AmapiCallError when Google refuses it. */
  async function ensurePolicy(organisationId: string, content: Json): Promise<string> {
    const { binding, google } = await deps.binding.bound(organisationId);
    const hash = createHash('sha256').update(canonical(content)).digest('hex');
    const row = await repo.findOrInsertPolicy(db, { organisationId, name: `${binding.enterpriseName}/policies/c-${hash.slice(0, 24)}`, contentSha256: hash, policy: content });
    if (row.googleVersion === null) {
      try {
        // Every field named: an absent one is cleared, none is left from an earlier content.
        const patched = await google.patchPolicy(row.name, content, Object.keys(content).join(','));
        await repo.recordPolicyPatch(db, row.id, { googleVersion: Number(patched.version ?? 1) });
      } catch (error) {
        if (error instanceof AmapiCallError && !error.transient) await repo.recordPolicyPatch(db, row.id, { error: error.message });
        throw error;
      }
    }
    return row.name;
  }

  /** Puts the tablet on the policy of its current content. */
  async function apply(deviceId: string): Promise<string> {
    const found = await repo.findAmapiDevice(db, deviceId);
    if (!found) throw new Error(`device ${deviceId} is not managed through AMAPI`);
    const { amapi, organisationId } = found;
    const name = await ensurePolicy(organisationId, withApps(amapi.basePolicy ?? emptyPolicy(), amapi.apps));
    if (amapi.policyName !== name) {
      const { google } = await deps.binding.bound(organisationId);
      await google.patchDevice(amapi.googleName, { policyName: name }, 'policyName');
      await repo.updateAmapiDevice(db, deviceId, { policyName: name });
    }
    return name;
  }

  return {
    apply,

    /** The policy a new tablet enrolls with: nothing but the inventory Cartable reads (Google needs one within 5 minutes). */
    ensureDefault: (organisationId: string) => ensurePolicy(organisationId, emptyPolicy()),

    /** An `apply_policy`: the tablet's profiles, compiled. */
    async setDesired(deviceId: string, version: number, policy: Json): Promise<string> {
      await repo.updateAmapiDevice(db, deviceId, { basePolicy: policy, desiredVersion: version });
      return apply(deviceId);
    },

    /** An `install_app` or `remove_app`: the tablet's own entry in `applications` (`BLOCKED` removes). */
    async setApp(deviceId: string, app: Json): Promise<string> {
      const found = await repo.findAmapiDevice(db, deviceId);
      if (!found) throw new Error(`device ${deviceId} is not managed through AMAPI`);
      const apps = [...found.amapi.apps.filter((a) => a.packageName !== app.packageName), app];
      await repo.updateAmapiDevice(db, deviceId, { apps });
      return apply(deviceId);
    },

    /** A new tablet gets its effective profiles at once, as an agent does at its first session. */
    async assignCurrent(_organisationId: string, deviceId: string): Promise<void> {
      const desired = await deps.desiredState.current(deviceId);
      await repo.updateAmapiDevice(db, deviceId, { basePolicy: deps.toPolicy(desired.policy), desiredVersion: desired.version });
      await apply(deviceId);
    },

    /** Google says which policy version the tablet applied: desired vs applied, as for every platform. */
    async recordCompliance(deviceId: string, device: DecodedDevice): Promise<void> {
      const found = await repo.findAmapiDevice(db, deviceId);
      if (!found?.amapi.policyName || found.amapi.desiredVersion === null || device.appliedPolicyName !== found.amapi.policyName) return;
      const policy = await repo.findPolicyByName(db, found.amapi.policyName);
      if (!policy?.googleVersion || (device.appliedPolicyVersion ?? 0) < policy.googleVersion) return;
      if (found.amapi.desiredVersion > 0) await deps.desiredState.applied(deviceId, found.amapi.desiredVersion, device.nonCompliance);
    },
  };
}
export type AmapiPoliciesService = ReturnType<typeof createAmapiPoliciesService>;
