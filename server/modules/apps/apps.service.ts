import type { Readable } from 'node:stream';
import { ConflictError, InvalidInputError, NotFoundError, TooLargeError, UnprocessableError } from '../../domain/errors';
import type { BlobStore } from '../../infra/blob-store';
import { isUniqueViolation, type Db, type DbOrTx } from '../../infra/db/client';
import type { Caller } from '../commands/command-intent';
import { recordAudit } from '../audit/audit.service';
import { isAssigned } from './app-assignments.repository';
import * as repo from './apps.repository';
import type { AppDetail, AppVersionView, AppView, CreateAppBody, UploadResult } from './apps.schemas';
import type { DownloadUrls } from './download-urls';
import { readPackage } from '../../infra/packages/read-package';
import type { PackageFacts } from '../../infra/packages/package-facts';

export interface AppsDeps {
  db: Db;
  blobs: BlobStore;
  urls: DownloadUrls;
  maxUploadBytes: number;
  /** Told of every version added to the catalog, once committed (automatic update campaigns); never fails the upload. */
  onVersionAdded?(caller: Caller, appId: string, versionId: string): Promise<unknown>;
}

/** QR codes are printed and kept: their address of the agent's APK outlives a school year or five. */
const AGENT_PACKAGE_URL_TTL_MS = 5 * 365 * 24 * 3600_000;

const CONTENT_TYPES: Record<string, string> = { apk: 'application/vnd.android.package-archive', msi: 'application/x-msi', msix: 'application/msix' };

/**
 * The app catalog: packages uploaded and read, iPad apps entered, binaries kept once by SHA-256
 * and handed to devices through signed URLs. The catalog belongs to the organisation: whoever
 * holds `apps.read` or `apps.write` anywhere in it sees or changes the one catalog.
 */
export function createAppsService(deps: AppsDeps) {
  const { db, blobs, urls } = deps;

  async function audit(tx: DbOrTx, caller: Caller, action: string, target: { type: string; id: string }, details: Record<string, unknown>) {
    await recordAudit(tx, { organisationId: caller.scope.organisationId, actor: caller.actor, action, target, outcome: 'success', details });
  }

  /** Adds a version, the app too when it is new; every rule that spans versions is checked under the app's row lock. */
  async function addVersion(caller: Caller, facts: PackageFacts, file: { sha256: string; sizeBytes: number } | null, appMetadata: Record<string, unknown> = {}): Promise<UploadResult> {
    const organisationId = caller.scope.organisationId;
    return db.transaction(async (tx) => {
      const { app, created } = await repo.lockOrCreateApp(tx, {
        organisationId,
        platform: facts.platform,
        kind: facts.kind,
        identifier: facts.identifier,
        name: facts.name,
        metadata: appMetadata,
        createdBy: caller.principal.userId,
      });
      if (app.kind !== facts.kind) throw new ConflictError(`${facts.identifier} is already in the catalog as ${app.kind}, not ${facts.kind}`, 'app_kind_mismatch');
      const versions = await repo.versionsOf(tx, app.id);
      const same = versions.find((v) => v.version === facts.version);
      // The same file, or the same entry typed again: nothing to add.
      const identical = file ? same?.sha256 === file.sha256 : JSON.stringify(same?.metadata) === JSON.stringify(facts.metadata);
      if (same && identical) return { app: appView(app, versions), version: versionView(same), created: false };
      if (same) throw new ConflictError(`Version ${facts.version} of ${facts.identifier} is already in the catalog with other content`, 'version_exists', { versionId: same.id });
      // Android refuses an update signed by another key; so does the catalog, before any tablet has to.
      const signer = versions.find((v) => v.signingCertSha256 !== null)?.signingCertSha256;
      if (facts.signingCertSha256 && signer && signer !== facts.signingCertSha256) {
        throw new InvalidInputError(
          `This APK is signed with another certificate (SHA-256 ${facts.signingCertSha256}) than the catalog's earlier versions of ${facts.identifier} (${signer}): tablets would refuse it as an update`,
          'signer_mismatch',
        );
      }
      const version = await repo.insertVersion(tx, {
        appId: app.id,
        organisationId,
        version: facts.version,
        versionCode: facts.versionCode,
        sha256: file?.sha256 ?? null,
        sizeBytes: file?.sizeBytes ?? null,
        signingCertSha256: facts.signingCertSha256,
        metadata: facts.metadata,
        createdBy: caller.principal.userId,
      });
      if (created) await audit(tx, caller, 'app.create', { type: 'app', id: app.id }, { platform: app.platform, kind: app.kind, identifier: app.identifier, name: app.name });
      await audit(tx, caller, 'app.version.create', { type: 'app', id: app.id }, { versionId: version.id, version: version.version, sha256: version.sha256, sizeBytes: version.sizeBytes, signingCertSha256: version.signingCertSha256 });
      return { app: appView(app, [version, ...versions]), version: versionView(version), created: true };
    });
  }

  async function withRetryOnRace<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      // Two first uploads of the same version at once: the loser sees the winner's row.
      if (isUniqueViolation(e)) return work();
      throw e;
    }
  }

  return {
    async list(caller: Caller): Promise<AppView[]> {
      const rows = await repo.listApps(db, caller.scope.organisationId);
      return rows.map((r) => ({ ...baseView(r.app), versionCount: Number(r.versions), latestVersion: r.latestVersion }));
    },

    async get(caller: Caller, id: string): Promise<AppDetail> {
      const app = await repo.findApp(db, caller.scope.organisationId, id);
      if (!app) throw new NotFoundError('App');
      const versions = await repo.versionsOf(db, app.id);
      return { ...appView(app, versions), versions: versions.map(versionView) };
    },

    /** An APK, MSI or MSIX streamed to disk, read, and published under its SHA-256 before its row commits. */
    async upload(caller: Caller, body: Readable, declaredBytes: number | null): Promise<UploadResult> {
      if (declaredBytes !== null && declaredBytes > deps.maxUploadBytes) throw new TooLargeError(`The file is larger than the ${deps.maxUploadBytes} bytes allowed (APP_MAX_UPLOAD_BYTES)`, 'upload_too_large');
      const file = await blobs.receive(body, deps.maxUploadBytes);
      if (file.sizeBytes === 0) {
        await blobs.discard(file);
        throw new InvalidInputError('The upload is empty: send the package file as the request body', 'upload_empty');
      }
      let facts: PackageFacts;
      try {
        facts = await readPackage(file.tempPath);
      } catch (e) {
        await blobs.discard(file);
        throw e;
      }
      // Published first: a row never names a missing file; a file no row names is harmless.
      await blobs.publish(file);
      const result = await withRetryOnRace(() => addVersion(caller, facts, file));
      if (result.created) await deps.onVersionAdded?.(caller, result.app.id, result.version.id).catch(() => undefined);
      return result;
    },

    async create(caller: Caller, body: CreateAppBody): Promise<UploadResult> {
      if (body.kind === 'app_store') {
        const facts: PackageFacts = { platform: 'ios', kind: 'app_store', identifier: body.bundleId, name: body.name, version: 'store', versionCode: null, signingCertSha256: null, metadata: { storeId: body.storeId } };
        return withRetryOnRace(() => addVersion(caller, facts, null, { storeId: body.storeId }));
      }
      const facts: PackageFacts = { platform: 'ios', kind: 'in_house', identifier: body.bundleId, name: body.name, version: body.version, versionCode: null, signingCertSha256: null, metadata: { manifestUrl: body.manifestUrl } };
      return withRetryOnRace(() => addVersion(caller, facts, null));
    },

    async remove(caller: Caller, id: string): Promise<void> {
      await db.transaction(async (tx) => {
        if (!(await repo.lockApp(tx, caller.scope.organisationId, id))) throw new NotFoundError('App');
        if (await isAssigned(tx, id)) throw new ConflictError('The app is assigned: remove its assignments first, so that its tablets are told to remove it', 'app_assigned');
        const versions = await repo.versionsOf(tx, id);
        const app = await repo.deleteApp(tx, caller.scope.organisationId, id);
        if (!app) throw new NotFoundError('App');
        await audit(tx, caller, 'app.delete', { type: 'app', id }, { platform: app.platform, identifier: app.identifier, versions: versions.map((v) => ({ id: v.id, version: v.version, sha256: v.sha256 })) });
      });
    },

    async removeVersion(caller: Caller, appId: string, versionId: string): Promise<void> {
      await db.transaction(async (tx) => {
        if (!(await repo.lockApp(tx, caller.scope.organisationId, appId))) throw new NotFoundError('App version');
        if (await isAssigned(tx, appId, versionId)) throw new ConflictError('This version is assigned: assign another version (or remove the assignments) first', 'app_version_assigned');
        const version = await repo.deleteVersion(tx, caller.scope.organisationId, appId, versionId);
        if (!version) throw new NotFoundError('App version');
        await audit(tx, caller, 'app.version.delete', { type: 'app', id: appId }, { versionId, version: version.version, sha256: version.sha256 });
      });
    },

    /** A person downloads a binary: a read of the catalog written to the audit trail, in the same transaction that finds it. */
    async download(caller: Caller, appId: string, versionId: string) {
      const found = await db.transaction(async (tx) => {
        const row = await repo.findVersion(tx, caller.scope.organisationId, versionId);
        if (!row || row.app.id !== appId || !row.version.sha256) return null;
        await audit(tx, caller, 'app.version.download', { type: 'app', id: appId }, { versionId, sha256: row.version.sha256 });
        return row;
      });
      if (!found) throw new NotFoundError('App file');
      const opened = await blobs.open(found.version.sha256!);
      if (!opened) throw new NotFoundError('App file');
      return { ...opened, contentType: CONTENT_TYPES[found.app.kind] ?? 'application/octet-stream', fileName: `${found.app.identifier}-${found.version.version}.${found.app.kind}`.replace(/[^A-Za-z0-9._{}-]/g, '_') };
    },

    /** A device follows a signed URL: the signature is the credential, and no person reads anything. */
    async deviceDownload(sha256: string, expires: number, sig: string) {
      urls.check(sha256, expires, sig);
      const opened = (await repo.isCataloguedFile(db, sha256)) ? await blobs.open(sha256) : null;
      if (!opened) throw new NotFoundError('App file');
      return opened;
    },

    /**
     * The install_app parameters of a catalog version, as its platform installs it: an APK or a
     * Windows package by its signed URL (valid until the command expires) and hash, an App Store
     * app by its store id, an in-house iPad app by its manifest URL. `appPlatform` keeps the command
     * to the devices of the app's platform.
     */
    async installParams(organisationId: string, appVersionId: string, expiresAt: Date): Promise<Record<string, unknown>> {
      const row = await repo.findVersion(db, organisationId, appVersionId);
      if (!row) throw new NotFoundError('App version');
      const { app, version } = row;
      const base = { appVersionId, appPlatform: app.platform };
      const meta = { ...app.metadata, ...version.metadata };
      const unusable = () => new UnprocessableError(`The catalog version ${version.version} of ${app.identifier} lacks what an install needs`, 'app_not_installable');
      switch (app.kind) {
        case 'apk':
          if (!version.sha256 || version.versionCode === null || !version.signingCertSha256) throw unusable();
          return { ...base, packageName: app.identifier, versionCode: version.versionCode, url: urls.url(version.sha256, expiresAt), sha256: version.sha256, sizeBytes: version.sizeBytes, signingCertSha256: [version.signingCertSha256] };
        case 'app_store':
          if (typeof meta.storeId !== 'number') throw unusable();
          return { ...base, appKind: app.kind, identifier: app.identifier, storeId: meta.storeId };
        case 'in_house':
          if (typeof meta.manifestUrl !== 'string') throw unusable();
          return { ...base, appKind: app.kind, identifier: app.identifier, version: version.version, manifestUrl: meta.manifestUrl };
        case 'msi':
        case 'msix':
          if (!version.sha256) throw unusable();
          return { ...base, appKind: app.kind, identifier: app.identifier, version: version.version, url: urls.url(version.sha256, expiresAt), sha256: version.sha256, sizeBytes: version.sizeBytes };
        default:
          throw new UnprocessableError(`${app.identifier} is ${app.kind}: no platform installs it`, 'app_not_installable');
      }
    },

    /**
     * The provisioning QR code's agent package from a catalog APK: its signer's SHA-256 as the
     * checksum (base64url, as Android compares it), and a signed address of the file itself, long
     * lived since QR codes are printed.
     */
    async agentPackage(organisationId: string, appVersionId: string, componentName?: string) {
      const row = await repo.findVersion(db, organisationId, appVersionId);
      if (!row) throw new NotFoundError('App version');
      const { app, version } = row;
      if (app.kind !== 'apk' || !version.sha256 || !version.signingCertSha256) throw new UnprocessableError(`${app.identifier} ${version.version} is not a signed APK of the catalog`, 'app_not_installable');
      return {
        componentName: componentName ?? `${app.identifier}/.AdminReceiver`,
        downloadUrl: urls.url(version.sha256, new Date(Date.now() + AGENT_PACKAGE_URL_TTL_MS)),
        signatureChecksum: Buffer.from(version.signingCertSha256, 'hex').toString('base64url'),
      };
    },

    /** The remove_app parameters of a catalog app: its platform's identifier, kept to its platform. */
    async removeParams(organisationId: string, appId: string): Promise<Record<string, unknown>> {
      const app = await repo.findApp(db, organisationId, appId);
      if (!app) throw new NotFoundError('App');
      return app.kind === 'apk' ? { appId, appPlatform: app.platform, packageName: app.identifier } : { appId, appPlatform: app.platform, appKind: app.kind, identifier: app.identifier };
    },
  };
}
export type AppsService = ReturnType<typeof createAppsService>;

function baseView(app: repo.AppRow) {
  return { id: app.id, platform: app.platform, kind: app.kind, identifier: app.identifier, name: app.name, metadata: app.metadata, createdAt: app.createdAt.toISOString(), updatedAt: app.updatedAt.toISOString() };
}

function appView(app: repo.AppRow, versions: repo.AppVersionRow[]): AppView {
  return { ...baseView(app), versionCount: versions.length, latestVersion: versions[0]?.version ?? null };
}

function versionView(v: repo.AppVersionRow): AppVersionView {
  return {
    id: v.id,
    appId: v.appId,
    version: v.version,
    versionCode: v.versionCode,
    sha256: v.sha256,
    sizeBytes: v.sizeBytes,
    signingCertSha256: v.signingCertSha256,
    metadata: v.metadata,
    createdAt: v.createdAt.toISOString(),
  };
}
