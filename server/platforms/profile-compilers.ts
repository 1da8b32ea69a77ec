import type { ProfileCompilers } from '../modules/profiles/profile-compilers.port';
import { compileAgentPolicy } from './agent/agent-policy.compiler';
import { mergeAgentPolicies } from './agent/agent-policy.merge';
import { compileLocationReporting } from './agent/agent-location.compiler';
import { compileMobileconfig } from './apple/profiles/mobileconfig.compiler';
import { compileWindowsCommands } from './windows/profiles/csp.compiler';
import { renderSyncBody } from './windows/profiles/syncml';

/** The platforms' profile compilers behind the port the profiles service uses. */
export function createProfileCompilers(): ProfileCompilers {
  return {
    preview(profile, platform) {
      switch (platform) {
        case 'ios': {
          // Unsigned: a preview shows what the tablet will read; the signature is added when it is sent.
          const { output, warnings } = compileMobileconfig(profile);
          return { output: { format: 'mobileconfig', xml: output.xml }, warnings };
        }
        case 'android': {
          const { output, warnings } = compileAgentPolicy(profile);
          return { output: { format: 'agent_policy', policy: output.policy }, warnings };
        }
        case 'windows': {
          const { output, warnings } = compileWindowsCommands(profile);
          return { output: { format: 'syncml', syncBody: renderSyncBody(output.install, (i) => String(i + 1)), commands: output.install.length }, warnings };
        }
      }
    },
    agentPolicy: (profiles, location) => ({ ...mergeAgentPolicies(profiles), ...(location ? { locationReporting: compileLocationReporting(location) } : {}) }),
  };
}
