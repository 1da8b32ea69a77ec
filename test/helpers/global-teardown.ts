import { TEMPLATE_DB, withAdmin } from './databases';

export default async function globalTeardown(): Promise<void> {
  await withAdmin((c) => c.query(`drop database if exists ${TEMPLATE_DB} with (force)`));
}
