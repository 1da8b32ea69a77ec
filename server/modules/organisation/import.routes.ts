import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { InvalidInputError } from '../../domain/errors';
import { actorOf } from '../access/auth.plugin';
import { CSV_LIMITS } from './csv-import.service';
import { ImportQuery, ImportReport } from './organisation.schemas';

const tags = ['import'];
const description =
  'Send the file as the request body with Content-Type text/csv (comma or semicolon separated, header line first). ' +
  'The import is all or nothing: when any line is rejected the answer is 422 with the full per-line report and nothing is written. ' +
  'With ?dryRun=true the report is computed and nothing is written. ' +
  `A file is refused whole when it exceeds ${CSV_LIMITS.maxBytes} bytes or ${CSV_LIMITS.maxRows} lines (413), or when a value holds a NUL byte ` +
  `or more than ${CSV_LIMITS.maxCellLength} characters (400, naming the line and column).`;

/** Bulk loading of schools and directors from spreadsheets. */
export const importRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => done(null, body));
  const imports = app.services.csvImport;
  const body = Type.String({ description: 'CSV text' });
  // The file's own bound, whatever the server's general body limit (the service checks it too, for other callers).
  const bodyLimit = CSV_LIMITS.maxBytes;
  const schema = (summary: string) => ({ tags, summary, description, consumes: ['text/csv'], querystring: ImportQuery, body, response: { 200: ImportReport } });
  const text = (raw: unknown) => {
    if (typeof raw !== 'string' || raw.trim() === '') throw new InvalidInputError('Send the CSV file as the body with Content-Type text/csv', 'csv_expected');
    return raw;
  };

  app.post('/import/schools', { config: { access: { permission: 'organisation.manage' } }, bodyLimit, schema: schema('Import schools: code (UAI), name, commune_code [, kind, pilot]') }, (req) =>
    imports.importSchools(req.scope, text(req.body), req.query, actorOf(req)),
  );
  app.post('/import/directors', { config: { access: { permission: 'users.manage' } }, bodyLimit, schema: schema('Import directors: name, email, school_code (UAI)') }, (req) =>
    imports.importDirectors(req.scope, text(req.body), req.query, actorOf(req)),
  );
};
