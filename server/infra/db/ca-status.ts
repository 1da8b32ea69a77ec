import { existsSync } from 'node:fs';
import type { Client } from 'pg';
import type { Config } from '../../config';
import { decryptKey } from '../pki';
import { createSecretBox, secretKeyPath } from '../secrets';

/** Whether the stored CA key opens with this installation's secret key; never creates anything. */
export async function loadCaStatus(client: Client, config: Config): Promise<{ name: string; ok: boolean; detail: string; fix?: string }> {
  const name = 'Certificate authority';
  const table = await client.query("select to_regclass('public.certificate_authorities') as t");
  const rows = table.rows[0]?.t ? (await client.query('select name, key_encrypted_pem from certificate_authorities')).rows : [];
  if (rows.length === 0) return { name, ok: true, detail: 'not created yet: the server creates it at first start' };
  const keyFile = secretKeyPath(config.CARTABLE_SECRETS_DIR);
  if (!config.CARTABLE_SECRET_KEY && !existsSync(keyFile)) {
    return { name, ok: false, detail: `the CA exists but the secret key is missing (${keyFile})`, fix: 'restore the key file from backup, or set CARTABLE_SECRET_KEY' };
  }
  const box = createSecretBox(config.CARTABLE_SECRET_KEY, config.CARTABLE_SECRETS_DIR);
  for (const row of rows as { name: string; key_encrypted_pem: string }[]) {
    try {
      decryptKey(row.key_encrypted_pem, box.passphrase);
    } catch {
      return { name, ok: false, detail: `the key of CA "${row.name}" cannot be decrypted with the secret key from ${box.source}`, fix: 'restore the secret key that was in use when the CA was created' };
    }
  }
  return { name, ok: true, detail: `${rows.length} CA key(s) decrypt with the secret key from ${box.source}` };
}
