import { parse } from 'csv-parse/sync';
import type { Db, DbOrTx } from '../../infra/db/client';
import { SCHOOL_KINDS } from '../../infra/db/schema';
import { InvalidInputError, TooLargeError, UnprocessableError } from '../../domain/errors';
import type { Actor, Scope } from '../access/principal';
import { insertSchoolGrants, insertUsers, renameUsers, schoolGrantsOf, usersByEmail } from '../access/users.repository';
import { normaliseEmail } from '../access/users.service';
import { recordAudit } from '../audit/audit.service';
import { communesByCode, schoolsByCode, upsertSchools } from './organisation.repository';
import type { SchoolKind } from './organisation.service';

export type LineOutcome = 'created' | 'updated' | 'unchanged' | 'rejected';
export interface LineReport {
  line: number;
  code: string | null;
  outcome: LineOutcome;
  reason: string | null;
}
export interface ImportReport {
  dryRun: boolean;
  applied: boolean;
  summary: { created: number; updated: number; unchanged: number; rejected: number };
  lines: LineReport[];
}

/** Any rejected line refuses the whole file: the report comes back as a 422 and nothing is written. */
export class ImportRejectedError extends UnprocessableError {
  constructor(readonly report: ImportReport) {
    super(`${report.summary.rejected} line(s) rejected; nothing was imported`, 'import_rejected', { report });
  }
}

/**
 * An import is bounded like the API it stands for: a file the size of a large authority's
 * schools or directors, values no longer than the API takes, and no NUL byte (PostgreSQL stores
 * none in text, so one would fail the whole write instead of its line).
 */
export const CSV_LIMITS = { maxBytes: 1024 * 1024, maxRows: 5000, maxCellLength: 254, maxNameLength: 200 } as const;

const UAI = /^[0-9]{7}[A-Z]$/;
const INSEE = /^[0-9][0-9AB][0-9]{3}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const KINDS: readonly SchoolKind[] = SCHOOL_KINDS;

interface Row {
  line: number;
  values: Record<string, string>;
}

/**
 * Reads a CSV with a header line; `;` is accepted as well as `,` because spreadsheets set up for
 * French write it. Lines with a wrong column count are kept and rejected individually.
 */
function readCsv(text: string, required: string[], optional: string[]): { rows: Row[]; rejected: LineReport[] } {
  const bytes = Buffer.byteLength(text);
  if (bytes > CSV_LIMITS.maxBytes) throw new TooLargeError(`The file has ${bytes} bytes; an import takes at most ${CSV_LIMITS.maxBytes}: split it`, 'csv_too_large', { bytes, maxBytes: CSV_LIMITS.maxBytes });
  const firstLine = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
  const delimiter = firstLine.includes(';') && !firstLine.includes(',') ? ';' : ',';
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(text, { bom: true, delimiter, trim: true, skip_empty_lines: true, relax_column_count: true, info: true }) as unknown as typeof records;
  } catch (err) {
    const line = (err as { lines?: number }).lines ?? 1;
    return { rows: [], rejected: [{ line, code: null, outcome: 'rejected', reason: `malformed CSV: ${(err as Error).message}` }] };
  }
  checkCells(records);
  const [header, ...body] = records;
  if (body.length > CSV_LIMITS.maxRows) throw new TooLargeError(`The file has ${body.length} lines after the header; an import takes at most ${CSV_LIMITS.maxRows}: split it`, 'csv_too_many_rows', { rows: body.length, maxRows: CSV_LIMITS.maxRows });
  const columns = (header?.record ?? []).map((c) => c.toLowerCase());
  const missing = required.filter((c) => !columns.includes(c));
  const unknown = columns.filter((c) => !required.includes(c) && !optional.includes(c));
  if (!header || missing.length || unknown.length) {
    const reason = !header ? 'empty file' : missing.length ? `missing column(s): ${missing.join(', ')}` : `unknown column(s): ${unknown.join(', ')}`;
    return { rows: [], rejected: [{ line: 1, code: null, outcome: 'rejected', reason }] };
  }
  const rows: Row[] = [];
  const rejected: LineReport[] = [];
  for (const { record, info } of body) {
    if (record.length !== columns.length) {
      rejected.push({ line: info.lines, code: null, outcome: 'rejected', reason: `expected ${columns.length} fields, found ${record.length}` });
      continue;
    }
    rows.push({ line: info.lines, values: Object.fromEntries(columns.map((c, i) => [c, record[i]!])) });
  }
  return { rows, rejected };
}

/** Refuses the whole file at the first cell no import could store, naming its line and column. */
function checkCells(records: Array<{ record: string[]; info: { lines: number } }>): void {
  const header = records[0]?.record ?? [];
  for (const { record, info } of records) {
    record.forEach((cell, i) => {
      const column = info.lines === records[0]?.info.lines ? `${i + 1}` : (header[i] ?? `${i + 1}`);
      const where = { line: info.lines, column };
      if (cell.includes('\u0000')) throw new InvalidInputError(`Line ${where.line}, column ${column}: the value contains a NUL byte`, 'csv_nul_byte', where);
      if (cell.length > CSV_LIMITS.maxCellLength) {
        throw new InvalidInputError(`Line ${where.line}, column ${column}: the value has ${cell.length} characters, at most ${CSV_LIMITS.maxCellLength} are taken`, 'csv_cell_too_long', { ...where, maxLength: CSV_LIMITS.maxCellLength });
      }
    });
  }
}

function finish(lines: LineReport[], dryRun: boolean, applied: boolean): ImportReport {
  lines.sort((a, b) => a.line - b.line);
  const count = (o: LineOutcome) => lines.filter((l) => l.outcome === o).length;
  return { dryRun, applied, summary: { created: count('created'), updated: count('updated'), unchanged: count('unchanged'), rejected: count('rejected') }, lines };
}

/** Flags the second and later lines carrying the same key. */
function rejectDuplicates(rows: Row[], key: (r: Row) => string, what: string, lines: LineReport[]): Row[] {
  const first = new Map<string, number>();
  return rows.filter((r) => {
    const k = key(r);
    const seen = first.get(k);
    if (seen === undefined) first.set(k, r.line);
    else lines.push({ line: r.line, code: k, outcome: 'rejected', reason: `duplicate ${what} in the file (first on line ${seen})` });
    return seen === undefined;
  });
}

export function createCsvImportService(deps: { db: Db }) {
  const { db } = deps;

  /** Runs `write` in one transaction unless a line was rejected or this is a dry run. */
  async function settle(lines: LineReport[], dryRun: boolean, write: (tx: DbOrTx) => Promise<void>): Promise<ImportReport> {
    if (lines.some((l) => l.outcome === 'rejected')) throw new ImportRejectedError(finish(lines, dryRun, false));
    if (!dryRun) await db.transaction(write);
    return finish(lines, dryRun, !dryRun);
  }

  /** Columns: code (UAI), name, commune_code (INSEE); optional kind, pilot (yes/no). */
  async function importSchools(scope: Scope, csv: string, options: { dryRun: boolean }, actor: Actor): Promise<ImportReport> {
    const { rows, rejected: lines } = readCsv(csv, ['code', 'name', 'commune_code'], ['kind', 'pilot']);
    const unique = rejectDuplicates(rows, (r) => r.values.code!.toUpperCase(), 'school code', lines);
    const communes = await communesByCode(db, scope.organisationId, [...new Set(unique.map((r) => r.values.commune_code!))]);
    const existing = await schoolsByCode(db, scope.organisationId, unique.map((r) => r.values.code!.toUpperCase()));
    const values: Array<{ organisationId: string; code: string; name: string; communeId: string; kind: SchoolKind; pilot: boolean }> = [];
    for (const { line, values: v } of unique) {
      const code = v.code!.toUpperCase();
      const kind = (v.kind || 'primaire').toLowerCase() as SchoolKind;
      const pilot = (v.pilot ?? '').toLowerCase();
      const reason = !UAI.test(code)
        ? 'code must be a UAI: 7 digits and a letter'
        : !v.name
          ? 'name is empty'
          : v.name.length > CSV_LIMITS.maxNameLength
            ? `name is longer than ${CSV_LIMITS.maxNameLength} characters`
            : !INSEE.test(v.commune_code!)
            ? 'commune_code must be an INSEE code'
            : !communes.has(v.commune_code!)
              ? `unknown commune ${v.commune_code}`
              : !KINDS.includes(kind)
                ? `kind must be one of ${KINDS.join(', ')}`
                : !['', 'yes', 'no', 'oui', 'non', 'true', 'false', '1', '0'].includes(pilot)
                  ? 'pilot must be yes or no'
                  : null;
      if (reason) {
        lines.push({ line, code, outcome: 'rejected', reason });
        continue;
      }
      const communeId = communes.get(v.commune_code!)!.id;
      const isPilot = ['yes', 'oui', 'true', '1'].includes(pilot);
      const before = existing.get(code);
      const same = before && before.name === v.name && before.communeId === communeId && before.kind === kind && (v.pilot === undefined || before.pilot === isPilot);
      lines.push({ line, code, outcome: !before ? 'created' : same ? 'unchanged' : 'updated', reason: null });
      if (!same) values.push({ organisationId: scope.organisationId, code, name: v.name!, communeId, kind, pilot: v.pilot === undefined ? (before?.pilot ?? false) : isPilot });
    }
    return settle(lines, options.dryRun, async (tx) => {
      const written = await upsertSchools(tx, values);
      await recordAudit(tx, {
        organisationId: scope.organisationId,
        actor,
        action: 'import.schools',
        outcome: 'success',
        details: { created: written.filter((w) => w.inserted).map((w) => w.code), updated: written.filter((w) => !w.inserted).map((w) => w.code) },
      });
    });
  }

  /** Columns: name, email, school_code (UAI). Creates accounts without password and grants the director role. */
  async function importDirectors(scope: Scope, csv: string, options: { dryRun: boolean }, actor: Actor): Promise<ImportReport> {
    const { rows, rejected: lines } = readCsv(csv, ['name', 'email', 'school_code'], []);
    const unique = rejectDuplicates(rows, (r) => `${normaliseEmail(r.values.email!)} ${r.values.school_code!.toUpperCase()}`, 'email and school', lines);
    const schools = await schoolsByCode(db, scope.organisationId, unique.map((r) => r.values.school_code!.toUpperCase()));
    const people = await usersByEmail(db, [...new Set(unique.map((r) => normaliseEmail(r.values.email!)))]);
    const grants = await schoolGrantsOf(db, 'director', [...people.values()].map((u) => u.id));
    const planned: Array<{ email: string; name: string; schoolId: string }> = [];
    for (const { line, values: v } of unique) {
      const email = normaliseEmail(v.email!);
      const code = v.school_code!.toUpperCase();
      const school = schools.get(code);
      const person = people.get(email);
      const reason = !v.name
        ? 'name is empty'
        : v.name.length > CSV_LIMITS.maxNameLength
          ? `name is longer than ${CSV_LIMITS.maxNameLength} characters`
          : !EMAIL.test(email)
          ? 'email is not a valid address'
          : !school
            ? `unknown school ${code}`
            : person && person.organisationId !== scope.organisationId
              ? 'this email belongs to an account of another organisation'
              : null;
      if (reason) {
        lines.push({ line, code: email, outcome: 'rejected', reason });
        continue;
      }
      const granted = person && grants.some((g) => g.userId === person.id && g.scopeId === school!.id);
      const outcome = !person ? 'created' : granted && person.displayName === v.name ? 'unchanged' : 'updated';
      lines.push({ line, code: email, outcome, reason: null });
      planned.push({ email, name: v.name!, schoolId: school!.id });
    }
    return settle(lines, options.dryRun, async (tx) => {
      const fresh = [...new Map(planned.filter((p) => !people.has(p.email)).map((p) => [p.email, p])).values()];
      const created = await insertUsers(tx, fresh.map((p) => ({ organisationId: scope.organisationId, email: p.email, displayName: p.name, passwordHash: null })));
      const ids = new Map([...people.values(), ...created].map((u) => [u.email, u]));
      await renameUsers(tx, planned.filter((p) => people.has(p.email) && people.get(p.email)!.displayName !== p.name).map((p) => ({ id: ids.get(p.email)!.id, displayName: p.name })));
      const added = await insertSchoolGrants(tx, planned.map((p) => ({ organisationId: scope.organisationId, userId: ids.get(p.email)!.id, role: 'director' as const, scopeId: p.schoolId })));
      await recordAudit(tx, {
        organisationId: scope.organisationId,
        actor,
        action: 'import.directors',
        outcome: 'success',
        details: { createdUsers: created.map((u) => u.email), grants: added.map((g) => ({ userId: g.userId, schoolId: g.scopeId })) },
      });
    });
  }

  return { importSchools, importDirectors };
}

export type CsvImportService = ReturnType<typeof createCsvImportService>;
