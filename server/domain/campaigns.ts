/** What a campaign deploys: each action is carried by the command kind of the same name. */
export const CAMPAIGN_ACTIONS = ['install_app', 'remove_app', 'install_profile', 'remove_profile'] as const;
export type CampaignAction = (typeof CAMPAIGN_ACTIONS)[number];

/** `draft`: stored and previewable, nothing sent; `running` waits for its start time and its windows by itself. */
export const CAMPAIGN_STATUSES = ['draft', 'running', 'paused', 'completed', 'failed', 'cancelled'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];
export const CAMPAIGN_FINAL_STATUSES: readonly CampaignStatus[] = ['completed', 'failed', 'cancelled'];

export const WAVE_STATUSES = ['waiting', 'running', 'awaiting_approval', 'passed', 'failed', 'cancelled'] as const;
export type WaveStatus = (typeof WAVE_STATUSES)[number];
export const WAVE_PROMOTIONS = ['auto', 'approval'] as const;

/** One device of a campaign: `sent` means a command of the campaign is open for it. */
export const TARGET_STATUSES = ['pending', 'sent', 'succeeded', 'failed', 'skipped'] as const;
export type TargetStatus = (typeof TARGET_STATUSES)[number];

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/**
 * A weekly time range in each school's own time zone: on each of `days`, from `start` to `end`
 * the same day, or to `end` the next day when `nextDay` is set (17:30 to 07:30).
 */
export interface CampaignWindow {
  days: Weekday[];
  start: string;
  end: string;
  nextDay?: boolean;
}

/** Local dates (YYYY-MM-DD, inclusive) when nothing is sent: for every school, or for the listed ones. */
export interface ExcludedRange {
  from: string;
  to: string;
  summary?: string;
  schoolIds?: string[];
}

export interface CampaignTarget {
  schoolIds?: string[];
  communeIds?: string[];
  groupIds?: string[];
  platforms?: ('android' | 'ios' | 'windows')[];
  tags?: string[];
  deviceIds?: string[];
  /** Only devices that report this app (its identifier) installed: an update rather than a first install. */
  installedApp?: string;
}

export interface RetryPolicy {
  /** Commands per device, the first included. */
  maxAttempts: number;
  /** Delay before the second attempt; doubled at each further one. */
  backoffSec: number;
}

/**
 * Failures a device may get past by trying again later: the agent was busy or did not say
 * (§16), the command expired before the device came for it, or it was handed out and lost.
 */
export const TEMPORARY_ERROR_CODES = ['BUSY', 'UNKNOWN', 'NotNow', 'timeout'] as const;
