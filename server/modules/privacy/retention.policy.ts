import { Type, type Static } from '@sinclair/typebox';

/**
 * How long each kind of data is kept, in days, with the bounds an organisation may choose within.
 * The defaults follow the CNIL's doctrine for location (30 days at most) and for logs (6 months to
 * a year); the bounds keep a setting from silently disabling a purge or keeping data for years.
 */
export const RETENTION_TYPES = {
  positionsDays: { default: 30, min: 1, max: 30, label: 'Positions (locate)' },
  lostModePositionsDaysAfterFound: { default: 30, min: 0, max: 30, label: 'Positions en mode perdu, après la fin du mode perdu' },
  commandsDays: { default: 365, min: 30, max: 730, label: 'Commandes terminées et leurs résultats' },
  deviceEventsDays: { default: 180, min: 30, max: 730, label: 'Événements signalés par les tablettes' },
  auditEventsDays: { default: 365, min: 180, max: 1095, label: "Journal d'audit (archivé signé, puis supprimé)" },
  retiredDevicesDays: { default: 365, min: 30, max: 730, label: 'Inventaire des tablettes effacées ou retirées' },
} as const;
export type RetentionType = keyof typeof RETENTION_TYPES;
export type RetentionSettings = Record<RetentionType, number>;
export const RETENTION_KEYS = Object.keys(RETENTION_TYPES) as RetentionType[];

const field = (k: RetentionType) => {
  const t = RETENTION_TYPES[k];
  return Type.Optional(Type.Integer({ minimum: t.min, maximum: t.max, description: `${t.label}: ${t.min}–${t.max} days (default ${t.default})` }));
};

/** A change to the retention periods: out-of-bounds values are refused (400) with their field's path. */
export const RetentionPatch = Type.Object(Object.fromEntries(RETENTION_KEYS.map((k) => [k, field(k)])) as { [K in RetentionType]: ReturnType<typeof field> }, {
  additionalProperties: false,
});
export type RetentionPatch = Static<typeof RetentionPatch>;

export const RetentionView = Type.Object(Object.fromEntries(RETENTION_KEYS.map((k) => [k, Type.Integer()])) as { [K in RetentionType]: ReturnType<typeof Type.Integer> });

export const DAY_MS = 24 * 3600 * 1000;

/**
 * The periods in force: the organisation's settings over the defaults. A stored value out of the
 * bounds (written before the bounds changed) is clamped, never trusted as is.
 */
export function effectiveRetention(stored: Partial<Record<string, number>> | undefined): RetentionSettings {
  const out = {} as RetentionSettings;
  for (const k of RETENTION_KEYS) {
    const t = RETENTION_TYPES[k];
    const v = stored?.[k];
    out[k] = typeof v === 'number' && Number.isInteger(v) ? Math.min(t.max, Math.max(t.min, v)) : t.default;
  }
  return out;
}

export const cutoff = (now: Date, days: number): Date => new Date(now.getTime() - days * DAY_MS);
