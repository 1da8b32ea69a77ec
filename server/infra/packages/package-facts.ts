import type { AppKind, AppPlatform } from '../../domain/apps';
import { InvalidInputError } from '../../domain/errors';

/** What Cartable read from an uploaded package: enough to name the app, order its versions and trust its signer. */
export interface PackageFacts {
  platform: AppPlatform;
  kind: AppKind;
  /** The platform's own name for the app: package name, MSI ProductCode, MSIX package family name. */
  identifier: string;
  name: string;
  version: string;
  versionCode: number | null;
  signingCertSha256: string | null;
  metadata: Record<string, unknown>;
}

/** A package Cartable cannot take, with the reason a technician can act on. */
export function refusePackage(code: string, message: string): never {
  throw new InvalidInputError(message, code);
}
