import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import { createDatabase } from '../infra/db/client';
import { createSecretBox } from '../infra/secrets';
import { checkProfile, type ProfileProblem } from '../modules/profiles/profile-validation';
import { PROFILE_PLATFORMS, type CompileWarning, type NeutralProfile, type ProfilePlatform } from '../modules/profiles/profile.schemas';
import { CA_ORGANISATION, createPkiStore } from '../modules/pki-store/pki-store.service';
import { compileAgentPolicy } from '../platforms/agent/agent-policy.compiler';
import { compileMobileconfig, signMobileconfig } from '../platforms/apple/profiles/mobileconfig.compiler';
import { compileWindowsCommands } from '../platforms/windows/profiles/csp.compiler';
import { compileAmapiPolicy } from '../platforms/amapi/amapi-policy.compiler';
import { renderSyncBody } from '../platforms/windows/profiles/syncml';
import { UsageError } from './usage-error';

const USAGE = 'usage: cartable profile validate FILE | cartable profile compile FILE --platform ios|android|windows|amapi [--unsigned]';

/** `amapi`: the Android Management API policy, for tablets Google's Android Device Policy manages. */
type CliPlatform = ProfilePlatform | 'amapi';
const CLI_PLATFORMS: readonly CliPlatform[] = [...PROFILE_PLATFORMS, 'amapi'];

/** Reads a profile file; a file that is not JSON is a problem at the root, like any other. */
function readProfile(file: string): { profile?: NeutralProfile; problems: ProfileProblem[] } {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code) throw new Error(`cannot read ${file}: ${(error as Error).message}`);
    return { problems: [{ path: '/', message: `not JSON: ${(error as Error).message}` }] };
  }
  const checked = checkProfile(value);
  return checked.ok ? { profile: checked.profile, problems: [] } : { problems: checked.problems };
}

const problemLine = (file: string, p: ProfileProblem) => `${file}: ${p.path}: ${p.message}`;
const warningLine = (platform: CliPlatform, w: CompileWarning) => `warning (${platform}): ${w.path}: ${w.message}`;

/** The CA's signing identity, from the server's own database and secret: never a new CA. */
async function signWithServerCa(xml: string): Promise<Buffer> {
  const config = loadConfig();
  const secrets = createSecretBox(config.CARTABLE_SECRET_KEY, config.CARTABLE_SECRETS_DIR, { create: false });
  const database = createDatabase(config.DATABASE_URL, 1, { auditKey: secrets.auditKey });
  try {
    const pki = createPkiStore({ db: database.db, passphrase: secrets.passphrase, organisationName: CA_ORGANISATION });
    if (!(await pki.load({ create: false }))) throw new Error('no CA yet: start the server once (it creates the CA), or pass --unsigned');
    return signMobileconfig(xml, await pki.issueProfileSigner());
  } finally {
    await database.close();
  }
}

async function compile(profile: NeutralProfile, platform: CliPlatform, unsigned: boolean): Promise<{ output: string | Buffer; warnings: CompileWarning[] }> {
  switch (platform) {
    case 'ios': {
      const { output, warnings } = compileMobileconfig(profile);
      return { output: unsigned ? output.xml : await signWithServerCa(output.xml), warnings };
    }
    case 'android': {
      const { output, warnings } = compileAgentPolicy(profile);
      return { output: `${JSON.stringify(output, null, 2)}\n`, warnings };
    }
    case 'windows': {
      const { output, warnings } = compileWindowsCommands(profile);
      return { output: `${renderSyncBody(output.install, (i) => String(i + 1))}\n`, warnings };
    }
    case 'amapi': {
      const { output, warnings } = compileAmapiPolicy(profile);
      return { output: `${JSON.stringify(output.policy, null, 2)}\n`, warnings };
    }
  }
}

/** `cartable profile …`: 0 when done, 1 when the profile is invalid (each problem printed with its path). */
export async function profileCommand(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { platform: { type: 'string' }, unsigned: { type: 'boolean' } } });
  const [file, ...extra] = positionals;
  if (!file || extra.length) throw new UsageError(USAGE);

  if (action === 'validate') {
    if (values.platform || values.unsigned) throw new UsageError(USAGE);
    const { problems } = readProfile(file);
    for (const p of problems) console.log(problemLine(file, p));
    console.log(problems.length ? `${file}: ${problems.length} problem(s)` : `${file}: valid`);
    return problems.length ? 1 : 0;
  }
  if (action === 'compile') {
    const platform = values.platform as CliPlatform | undefined;
    if (!platform || !CLI_PLATFORMS.includes(platform)) throw new UsageError(`--platform must be one of ${CLI_PLATFORMS.join(', ')}`);
    if (values.unsigned && platform !== 'ios') throw new UsageError('--unsigned only applies to --platform ios');
    const { profile, problems } = readProfile(file);
    if (!profile) {
      for (const p of problems) console.error(problemLine(file, p));
      return 1;
    }
    const { output, warnings } = await compile(profile, platform, values.unsigned ?? false);
    for (const w of warnings) console.error(warningLine(platform, w));
    process.stdout.write(output);
    return 0;
  }
  throw new UsageError(USAGE);
}
