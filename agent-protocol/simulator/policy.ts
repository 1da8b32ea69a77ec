import { createMessage, validateSchema, type DesiredState } from '../src';
import type { SimulatedAgent } from './simulated-agent';

/** What a test makes the simulated tablet do with a policy: refuse it, or apply it with fields it could not apply. */
export interface PolicyVerdict {
  rejected?: string[];
  nonCompliance?: { fieldPath: string; reason: string }[];
}

/**
 * §27.3 as a tablet does it: a version at or below the stored one is ignored; an invalid policy
 * (or one the test says to refuse) is reported `policy_rejected` and the previous one stays;
 * otherwise it is stored with its version and reported `policy_applied`.
 */
export async function applyDesiredState(agent: SimulatedAgent, desired: DesiredState, verdictOf?: (desired: DesiredState) => PolicyVerdict | undefined): Promise<'applied' | 'rejected' | 'ignored'> {
  if (desired.version <= (agent.state.policy?.version ?? 0)) return 'ignored';
  const verdict = verdictOf?.(desired) ?? {};
  const check = validateSchema('Policy', desired.policy);
  const errors = verdict.rejected ?? (check.ok ? [] : check.errors);
  const at = agent.serverNow();
  if (errors.length) {
    agent.queue(createMessage('report.events', { events: [{ kind: 'policy_rejected', at, data: { version: desired.version, errors } }] }));
    await agent.save();
    agent.emit('policy-rejected', desired);
    return 'rejected';
  }
  agent.state.policy = { version: desired.version, policy: desired.policy };
  agent.queue(createMessage('report.events', { events: [{ kind: 'policy_applied', at, data: { version: desired.version, nonCompliance: verdict.nonCompliance ?? [] } }] }));
  await agent.save();
  agent.emit('policy-applied', desired);
  return 'applied';
}
