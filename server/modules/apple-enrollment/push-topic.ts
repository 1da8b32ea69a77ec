/**
 * The APNs topic an organisation's iPads are enrolled with: the UID of its MDM push
 * certificate. The enrollment profile needs it, and so does every push; both sides ask through
 * this one function, so an uploaded push certificate is seen by both at once.
 */
export type PushTopicLookup = (organisationId: string) => Promise<string | null>;

/**
 * The stored certificate's topic when there is one, else the configured APPLE_MDM_TOPIC (an
 * installation that manages its push certificate outside Cartable, or a test).
 */
export function pushTopicLookup(stored: PushTopicLookup | undefined, configured: string | undefined): PushTopicLookup {
  return async (organisationId) => (stored ? await stored(organisationId) : null) ?? configured ?? null;
}
