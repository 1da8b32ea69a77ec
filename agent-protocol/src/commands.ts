/** Commands (server → agent) and their acknowledgements and results (agent → server). */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { DateTime, FreeObject, HttpUrl, LocationFix, NonEmptyString, NonNegInt, Obj, Sha256Hex, Uuid } from './common';
import type { Capability } from './constants';
import { Policy } from './policy';

/** Command kinds defined by protocol version 1. */
export const COMMAND_KINDS = [
  'lock',
  'wipe',
  'reboot',
  'shutdown',
  'locate',
  'lost_mode_on',
  'lost_mode_off',
  'refresh_inventory',
  'message',
  'install_app',
  'apply_policy',
  'remove_app',
  'refresh_apps',
  'lost_mode_sound',
] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];

/** Kinds for which the agent reports `executing` and waits for the server's ack before acting. */
export const DESTRUCTIVE_COMMAND_KINDS: readonly CommandKind[] = ['wipe', 'reboot', 'shutdown'];

/** Capability an agent must announce for the server to issue a kind. */
export const COMMAND_CAPABILITY: Readonly<Record<CommandKind, Capability>> = {
  lock: 'lock',
  wipe: 'wipe',
  reboot: 'reboot',
  shutdown: 'shutdown',
  locate: 'locate',
  lost_mode_on: 'lost_mode',
  lost_mode_off: 'lost_mode',
  refresh_inventory: 'refresh_inventory',
  message: 'message',
  install_app: 'install_app',
  remove_app: 'remove_app',
  apply_policy: 'policy',
  refresh_apps: 'refresh_apps',
  lost_mode_sound: 'lost_mode_sound',
};

const Empty = (title: string) => Obj({}, { title });

/** `params` schema of each command kind. */
export const CommandParams = {
  lock: Obj(
    {
      message: Type.Optional(Type.String({ maxLength: 500, description: 'Shown on the lock screen.' })),
      phone: Type.Optional(Type.String({ maxLength: 64, description: 'Contact number shown on the lock screen.' })),
    },
    { title: 'lock' },
  ),
  wipe: Obj(
    {
      preserveFactoryResetProtection: Type.Optional(Type.Boolean({ description: 'Default false.' })),
      wipeExternalStorage: Type.Optional(Type.Boolean({ description: 'Default false.' })),
      reason: Type.Optional(Type.String({ maxLength: 200 })),
    },
    { title: 'wipe' },
  ),
  reboot: Empty('reboot'),
  shutdown: Empty('shutdown'),
  locate: Empty('locate'),
  lost_mode_on: Obj(
    {
      message: NonEmptyString('Shown full screen while the device is lost.'),
      phone: Type.Optional(Type.String({ maxLength: 64 })),
      footnote: Type.Optional(Type.String({ maxLength: 200, description: 'E.g. the organisation name.' })),
    },
    { title: 'lost_mode_on' },
  ),
  lost_mode_off: Empty('lost_mode_off'),
  refresh_inventory: Empty('refresh_inventory'),
  message: Obj(
    {
      title: Type.Optional(Type.String({ maxLength: 100 })),
      text: NonEmptyString('Message shown to the user.'),
    },
    { title: 'message' },
  ),
  install_app: Obj(
    {
      packageName: NonEmptyString('Package to install or update; the agent\'s own package name for a self-update.'),
      versionCode: NonNegInt('versionCode of the APK at url.'),
      url: HttpUrl('Where to download the APK (GET, no credentials).'),
      sha256: Sha256Hex('SHA-256 of the APK file, 64 hex digits.'),
      signingCertSha256: Type.Array(Sha256Hex(), {
        minItems: 1,
        maxItems: 8,
        description: 'SHA-256 of the accepted signing certificates (DER); the APK must be signed by one of them.',
      }),
      sizeBytes: Type.Optional(NonNegInt('Size of the APK file.')),
    },
    { title: 'install_app' },
  ),
  apply_policy: Obj(
    {
      version: NonNegInt('Version of this desired state; only a version above the applied one is applied (§27.1).'),
      policy: Policy,
    },
    { title: 'apply_policy', description: 'A newer desired state, as `welcome.desiredState` carries it (§27): the agent applies it as §27.3 says.' },
  ),
  remove_app: Obj(
    {
      packageName: NonEmptyString('Package to uninstall. Not installed: succeeded, nothing done.'),
    },
    { title: 'remove_app' },
  ),
  refresh_apps: Empty('refresh_apps'),
  lost_mode_sound: Empty('lost_mode_sound'),
} satisfies Record<CommandKind, TSchema>;
export type CommandParamsOf<K extends CommandKind> = Static<(typeof CommandParams)[K]>;

/** Server → agent. `commandId` is stable across re-sends; the envelope id changes on each send. */
export const Command = Obj(
  {
    commandId: Uuid(),
    kind: NonEmptyString('Command kind (see COMMAND_KINDS). Unknown kinds are answered UNSUPPORTED.'),
    params: FreeObject('Kind-specific parameters (see CommandParams).'),
    issuedAt: DateTime(),
    expiresAt: DateTime('Not executed after this instant; answered with status "expired".'),
  },
  { title: 'command' },
);
export type Command = Static<typeof Command>;

/** Agent → server, immediately on receipt of a `command` (ref = the command message id). */
export const CommandAck = Obj({ commandId: Uuid() }, { title: 'command.ack' });
export type CommandAck = Static<typeof CommandAck>;

export const COMMAND_RESULT_STATUSES = ['succeeded', 'failed', 'not_now', 'expired', 'executing'] as const;
export type CommandResultStatus = (typeof COMMAND_RESULT_STATUSES)[number];

export const COMMAND_ERROR_CODES = ['UNSUPPORTED', 'API_LEVEL', 'MANAGEMENT_MODE', 'INVALID_VALUE', 'UNKNOWN', 'BUSY'] as const;
export type CommandErrorCode = (typeof COMMAND_ERROR_CODES)[number];

function literals<T extends readonly string[]>(values: T) {
  return Type.Union(values.map((v) => Type.Literal(v as T[number])));
}

/** Agent → server; the server answers `ack`. */
export const CommandResult = Obj(
  {
    commandId: Uuid(),
    status: literals(COMMAND_RESULT_STATUSES),
    result: Type.Optional(FreeObject('Kind-specific result (see CommandResults).')),
    error: Type.Optional(
      Obj({
        code: literals(COMMAND_ERROR_CODES),
        message: Type.String(),
      }),
    ),
  },
  { title: 'command.result' },
);
export type CommandResult = Static<typeof CommandResult>;

/** `result` schema of the kinds that return data. */
export const CommandResults = {
  locate: Obj({ location: LocationFix }, { title: 'locate result' }),
  install_app: Obj({ versionCode: NonNegInt('versionCode installed after the command.') }, { title: 'install_app result' }),
} satisfies Partial<Record<CommandKind, TSchema>>;

/** Server → agent: drop the command if it has not been executed yet. The agent answers `ack`. */
export const CommandCancel = Obj({ commandId: Uuid() }, { title: 'command.cancel' });
export type CommandCancel = Static<typeof CommandCancel>;

/**
 * Command states as the server stores them and its REST API shows them (README §14.6). The agent
 * never sends these: the server derives them from delivery (`sent`), `command.ack`
 * (`acknowledged`) and `command.result` (the other states).
 */
export const COMMAND_STATES = ['queued', 'sent', 'acknowledged', 'executing', 'succeeded', 'failed', 'not_now', 'expired', 'cancelled'] as const;
export type CommandState = (typeof COMMAND_STATES)[number];

/** A command in one of these states never changes state again; a later result is recorded beside it. */
export const FINAL_COMMAND_STATES: readonly CommandState[] = ['succeeded', 'failed', 'not_now', 'expired', 'cancelled'];

/** States from which an administrator may cancel a command (the server then sends `command.cancel`). */
export const CANCELLABLE_COMMAND_STATES: readonly CommandState[] = ['queued', 'sent', 'acknowledged'];

/**
 * The server state a `command.result` status leads to. `executing` of a wipe is the device's last
 * word before it erases itself, so the server records it as `succeeded`.
 */
export function commandStateForResult(kind: string, status: CommandResultStatus): CommandState {
  if (status === 'executing') return kind === 'wipe' ? 'succeeded' : 'executing';
  return status;
}
