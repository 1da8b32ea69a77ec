/**
 * Lints each `{ filePath, code }` read from stdin as if the code sat at that path (nothing is
 * written), and prints the no-restricted-imports messages of each. Run outside Jest, whose module
 * sandbox cannot load ESLint's configuration file.
 */
import { ESLint } from 'eslint';

async function main(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += String(chunk);
  const eslint = new ESLint({ cwd: process.argv[2] });
  const out: string[][] = [];
  for (const { filePath, code } of JSON.parse(input) as { filePath: string; code: string }[]) {
    const [result] = await eslint.lintText(code, { filePath });
    out.push(result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message));
  }
  process.stdout.write(JSON.stringify(out));
}

void main();
