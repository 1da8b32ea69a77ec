import type { LocationFix } from '../../../agent-protocol/src';

/** A reported fix as stored: optional measures become nulls, the fix time a date. */
export function storedFix(fix: LocationFix) {
  return {
    lat: fix.lat,
    lon: fix.lon,
    accuracyM: fix.accuracyM,
    altitudeM: fix.altitudeM ?? null,
    speedMps: fix.speedMps ?? null,
    bearingDeg: fix.bearingDeg ?? null,
    provider: fix.provider,
    fixTime: new Date(fix.fixTime),
  };
}
