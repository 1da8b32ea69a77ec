import { createDatabase } from '../infra/db/client';
import { verifyAuditChain, type ChainVerdict } from '../modules/audit/audit.service';

export type AuditVerifyResult = { ok: boolean; checked: number; brokenAt?: number; reason?: string };

/**
 * `cartable audit verify`: walks the whole hash chain and names the first event whose content
 * or link to its predecessor does not match, i.e. where the trail was edited outside Cartable.
 */
export async function auditVerify(databaseUrl: string, print: (line: string) => void = (line) => console.log(line)): Promise<AuditVerifyResult> {
  const database = createDatabase(databaseUrl, 1);
  try {
    const verdict: ChainVerdict = await verifyAuditChain(database.db);
    if (verdict.ok) {
      print(`audit trail intact: ${verdict.checked} event(s) checked`);
      return { ok: true, checked: verdict.checked };
    }
    print(`audit trail BROKEN at event ${verdict.brokenAt}: ${verdict.reason} (${verdict.checked} event(s) before it are intact)`);
    return { ok: false, checked: verdict.checked, brokenAt: verdict.brokenAt, reason: verdict.reason };
  } finally {
    await database.close();
  }
}
