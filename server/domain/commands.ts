/** Neutral command vocabulary: what a technician means, whatever the platform. */
export const ISSUABLE_COMMAND_KINDS = ['lock', 'wipe', 'reboot', 'shutdown', 'locate', 'lost_mode_on', 'lost_mode_off', 'refresh_inventory', 'message', 'refresh_apps', 'lost_mode_sound', 'install_profile', 'remove_profile', 'profile_list', 'install_app', 'remove_app'] as const;
export type IssuableCommandKind = (typeof ISSUABLE_COMMAND_KINDS)[number];
/** Kinds the server derives by itself and nobody issues by hand: a profile change's desired state. */
export const DERIVED_COMMAND_KINDS = ['apply_policy'] as const;
/** Every kind a command row may hold. */
export const COMMAND_KINDS = [...ISSUABLE_COMMAND_KINDS, ...DERIVED_COMMAND_KINDS] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];

/**
 * `not_now`: the device could not run it yet and will be offered it again at its next session.
 * `executing`: the device started it (a reboot, an install) and reports the outcome later.
 */
export const COMMAND_STATUSES = ['queued', 'sent', 'acknowledged', 'executing', 'not_now', 'succeeded', 'failed', 'expired', 'cancelled'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

/** A final status is never overwritten: a result arriving after it is kept beside it. */
export const FINAL_STATUSES = ['succeeded', 'failed', 'expired', 'cancelled'] as const satisfies readonly CommandStatus[];
export const OPEN_STATUSES = ['queued', 'sent', 'acknowledged', 'executing', 'not_now'] as const satisfies readonly CommandStatus[];

export const COMMAND_ORIGINS = ['technician', 'campaign', 'profile', 'system'] as const;
export type CommandOrigin = (typeof COMMAND_ORIGINS)[number];

/** A command as the domain stores it, before any platform renders it. */
export interface NeutralCommand {
  id: string;
  kind: string;
  params: Record<string, unknown>;
  createdAt: Date;
  expiresAt: Date;
}
