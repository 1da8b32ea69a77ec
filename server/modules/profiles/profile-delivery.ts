import type { CommandQueuePort, DesiredStatePort } from '../../domain/platform-ports';

/**
 * The command queue of a platform that takes profiles one by one, with every outcome also told to
 * the desired state: an install or removal answered, a list of installed profiles, becomes the
 * device's applied state profile by profile. The outcome is stored first; this follows it.
 */
export function withProfileOutcomes(queue: CommandQueuePort, desiredState: Pick<DesiredStatePort, 'commandOutcome'>): CommandQueuePort {
  return {
    ...queue,
    async report(deviceId, outcome) {
      await queue.report(deviceId, outcome);
      // An outcome whose kind the edge knew, and that is no profile's, changes no profile: one statement saved per command.
      if (outcome.kind === undefined || PROFILE_KINDS.has(outcome.kind)) await desiredState.commandOutcome(deviceId, outcome);
    },
  };
}

const PROFILE_KINDS = new Set(['install_profile', 'remove_profile', 'profile_list']);

/**
 * An enrollment followed by the device's convergence: it gets its school's profiles at once. Best
 * effort: the enrollment stands whatever happens next, and a convergence that fails is logged; the
 * device then gets its profiles with the next change that reaches it.
 */
export function convergingAfter<A extends unknown[], R>(
  enroll: (...args: A) => Promise<R>,
  deviceOf: (result: R, ...args: A) => string | null,
  converge: (deviceId: string) => Promise<unknown>,
  onError: (error: unknown, deviceId: string) => void,
) {
  return async (...args: A): Promise<R> => {
    const result = await enroll(...args);
    const deviceId = deviceOf(result, ...args);
    if (deviceId) await converge(deviceId).catch((error: unknown) => onError(error, deviceId));
    return result;
  };
}
