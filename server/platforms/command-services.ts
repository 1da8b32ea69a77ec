import { createHash } from 'node:crypto';
import type { Infra } from '../infra/infra';
import { Nudges } from '../infra/nudges';
import { Presence } from '../infra/presence';
import { createCommandDelivery } from '../modules/commands/command-delivery.service';
import { createCommandsService } from '../modules/commands/commands.service';
import { platformAdapters } from '../modules/commands/platform-adapter';
import { createConfirmations } from '../modules/commands/wipe-confirmation';
import { createAgentCommandAdapter } from './agent/agent-command.adapter';

/**
 * The commands capability wired to every platform that can carry commands: the agent today;
 * Apple and Windows adapters register in `platformAdapters` when they exist.
 */
export function createCommandServices(infra: Infra) {
  const { db } = infra.database;
  const prefix = infra.config.REDIS_PREFIX;
  // Publishing a nudge only reads presence, so the TTL given here is never used to write.
  const nudges = new Nudges(infra.redis, infra.subscriber, new Presence(infra.redis, prefix, infra.config.AGENT_HEARTBEAT_SEC * 2), prefix);
  const adapters = platformAdapters(createAgentCommandAdapter(nudges));
  const confirmationKey = createHash('sha256').update(`cartable:confirm:${infra.secrets.passphrase}`).digest('base64url');
  return {
    commands: createCommandsService({
      db,
      adapters,
      confirmations: createConfirmations(confirmationKey),
      ackTimeoutSec: infra.config.COMMAND_ACK_TIMEOUT_SEC,
      inlineLimit: infra.config.BULK_INLINE_MAX_DEVICES,
      async enqueueFanout(jobs) {
        await infra.queues.addBulk('commands.fanout', jobs.map((data) => ({ data, opts: { jobId: `${data.batchId}.${data.chunk}`, attempts: 5, backoff: { type: 'exponential', delay: 1000 } } })));
      },
    }),
    commandDelivery: createCommandDelivery({ db, adapters }),
  };
}
