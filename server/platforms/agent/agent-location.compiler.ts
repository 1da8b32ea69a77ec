import type { LocationReporting } from '../../../agent-protocol/src';
import type { LocationRules } from '../../domain/location';

/** The location policy in force as the agent's `locationReporting` (README §27.4); `off` is its absence. */
export function compileLocationReporting(rules: LocationRules): LocationReporting {
  if (rules.mode !== 'school_hours') return { mode: 'on_demand' };
  return {
    mode: 'school_hours',
    intervalMinutes: rules.intervalMinutes ?? 15,
    timeZone: rules.timeZone,
    hours: rules.hours.map((h) => ({ days: [...h.days], start: h.start, end: h.end })),
    excludedDates: rules.excludedDates.map((d) => ({ from: d.from, to: d.to })),
  };
}
