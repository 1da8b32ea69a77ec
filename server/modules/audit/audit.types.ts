import type { Actor } from '../access/principal';

export interface AuditEntry {
  organisationId: string | null;
  actor: Actor;
  action: string;
  target?: { type: string; id: string };
  schoolId?: string | null;
  communeId?: string | null;
  outcome: 'success' | 'denied' | 'failure';
  details?: Record<string, unknown>;
}
