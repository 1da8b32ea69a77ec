/**
 * Writes the JSON Schemas of the agent protocol into agent-protocol/schema/:
 * one file per message body, HTTP body, command params and command result, plus index.json.
 *
 *   npx tsx scripts/generate-protocol-schemas.ts          # write
 *   npx tsx scripts/generate-protocol-schemas.ts --check  # fail if the files are out of date
 */
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import {
  CommandParams,
  CommandResults,
  Envelope,
  HttpBodies,
  LocationFix,
  MessageTypes,
  PROTOCOL_VERSION,
  ProvisioningQr,
  Policy,
  PushData,
  SPEC_REVISION,
} from '../agent-protocol/src';

const OUT_DIR = resolve(__dirname, '..', 'agent-protocol', 'schema');
const DRAFT = 'http://json-schema.org/draft-07/schema#';

const kebab = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

/** Plain JSON copy (TypeBox symbols are dropped by JSON.stringify), with $schema/title/description first. */
function toJsonSchema(schema: TSchema, title: string, description?: string): Record<string, unknown> {
  const plain = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  delete plain.title;
  const head: Record<string, unknown> = { $schema: DRAFT, title };
  const desc = description ?? (plain.description as string | undefined);
  delete plain.description;
  if (desc) head.description = desc;
  return { ...head, ...plain };
}

const files = new Map<string, Record<string, unknown>>();
const index = {
  protocolVersion: PROTOCOL_VERSION,
  specRevision: SPEC_REVISION,
  envelope: 'envelope.schema.json',
  messages: {} as Record<string, string>,
  http: {} as Record<string, string>,
  commandParams: {} as Record<string, string>,
  commandResults: {} as Record<string, string>,
  other: {} as Record<string, string>,
};

files.set('envelope.schema.json', toJsonSchema(Envelope, 'Envelope'));

for (const [type, schema] of Object.entries(MessageTypes)) {
  const file = `message.${type}.schema.json`;
  files.set(file, toJsonSchema(schema, type, `Body of the "${type}" message (envelope.body).`));
  index.messages[type] = file;
}
for (const [name, schema] of Object.entries(HttpBodies)) {
  const file = `http.${kebab(name)}.schema.json`;
  files.set(file, toJsonSchema(schema, name));
  index.http[name] = file;
}
for (const [kind, schema] of Object.entries(CommandParams)) {
  const file = `command-params.${kind}.schema.json`;
  files.set(file, toJsonSchema(schema, `${kind} params`, `params of a "${kind}" command.`));
  index.commandParams[kind] = file;
}
for (const [kind, schema] of Object.entries(CommandResults)) {
  const file = `command-result.${kind}.schema.json`;
  files.set(file, toJsonSchema(schema, `${kind} result`, `result of a "${kind}" command.result.`));
  index.commandResults[kind] = file;
}
for (const [name, schema] of Object.entries({ ProvisioningQr, LocationFix, PushData, Policy })) {
  const file = `${kebab(name)}.schema.json`;
  files.set(file, toJsonSchema(schema, name));
  index.other[name] = file;
}
files.set('index.json', index);

const render = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const generated = (f: string) => f.endsWith('.schema.json') || f === 'index.json';

mkdirSync(OUT_DIR, { recursive: true });
const existing = readdirSync(OUT_DIR).filter(generated);

if (process.argv.includes('--check')) {
  const stale = [...files].filter(([f, v]) => {
    try {
      return readFileSync(join(OUT_DIR, f), 'utf8') !== render(v);
    } catch {
      return true;
    }
  });
  const extra = existing.filter((f) => !files.has(f));
  if (stale.length || extra.length) {
    console.error(`agent-protocol/schema is out of date: ${[...stale.map(([f]) => f), ...extra].join(', ')}`);
    process.exit(1);
  }
  console.log(`agent-protocol/schema is up to date (${files.size} files).`);
} else {
  for (const f of existing) if (!files.has(f)) unlinkSync(join(OUT_DIR, f));
  for (const [f, v] of files) writeFileSync(join(OUT_DIR, f), render(v));
  console.log(`wrote ${files.size} files to ${OUT_DIR}`);
}
