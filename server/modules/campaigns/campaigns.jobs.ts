import type { JobHandlers } from '../../infra/queues/registry';
import type { CampaignEngine } from './campaign-engine.service';

/** The campaigns capability's background work: the engine, at once for one campaign or on the tick for all. */
export function campaignJobHandlers(engine: CampaignEngine): Pick<JobHandlers, 'campaigns.advance' | 'campaigns.tick'> {
  return {
    'campaigns.advance': async (data) => engine.advance(data.campaignId),
    'campaigns.tick': async () => ({ created: await engine.tick() }),
  };
}
