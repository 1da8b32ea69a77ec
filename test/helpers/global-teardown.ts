import { TEMPLATE_ENV, withAdmin } from './databases';

export default async function globalTeardown(): Promise<void> {
  const template = process.env[TEMPLATE_ENV];
  if (template) await withAdmin((c) => c.query(`drop database if exists ${template} with (force)`));
}
