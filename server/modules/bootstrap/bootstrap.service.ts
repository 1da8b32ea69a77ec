import type { Db } from '../../infra/db/client';
import { firstOrganisation, insertDefaultOrganisation } from './bootstrap.repository';

/**
 * Cartable serves one organisation per installation by default. The first start creates it when
 * nothing exists yet (the demo data, when loaded first, provides it instead).
 */
export async function ensureOrganisation(db: Db): Promise<{ id: string; name: string }> {
  const existing = await firstOrganisation(db);
  if (existing) return existing;
  await insertDefaultOrganisation(db, 'Mon organisation');
  return (await firstOrganisation(db))!;
}
