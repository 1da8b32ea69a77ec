/** Every event Cartable posts; an endpoint subscribes to some of them, or to all. */
export const WEBHOOK_EVENTS = [
  'webhook.ping',
  'campaign.wave_promoted',
  'campaign.wave_failed',
  'campaign.finished',
  'location.geofence_exit',
  'location.geofence_return',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
