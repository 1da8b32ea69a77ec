import type { LocationRules } from '../../domain/location';
import type { Compiled, NeutralProfile, ProfilePlatform } from './profile.schemas';

/**
 * What the profiles service needs of the platforms' compilers, injected by the composition root
 * (a service never imports a platform folder).
 */
export interface ProfileCompilers {
  /** One profile in a platform's native form, with what the platform cannot express. */
  preview(profile: NeutralProfile, platform: ProfilePlatform): Compiled<Record<string, unknown>>;
  /** The one agent policy of a device's effective set (the merge rule of docs/profiles.md), with the location policy in force, if any. */
  agentPolicy(profiles: readonly NeutralProfile[], location: LocationRules | null): Record<string, unknown>;
}
