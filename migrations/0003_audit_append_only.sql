-- The audit trail is append-only for the application: no UPDATE or DELETE except the two
-- documented paths (docs/audit-trail.md). This guards against mistakes and injected SQL; it does
-- not stop a database owner, who can disable triggers: the keyed MACs and signed checkpoints do.
CREATE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    -- Retention: the purge sets this in its own transaction, after recording its anchor.
    IF current_setting('cartable.audit_purge', true) = 'on' THEN
      RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: DELETE refused' USING ERRCODE = '42501';
  END IF;
  IF ROW(NEW.id, NEW.organisation_id, NEW.occurred_at, NEW.actor_type, NEW.actor_id, NEW.role, NEW.action,
         NEW.target_type, NEW.target_id, NEW.school_id, NEW.commune_id, NEW.outcome)
     IS NOT DISTINCT FROM
     ROW(OLD.id, OLD.organisation_id, OLD.occurred_at, OLD.actor_type, OLD.actor_id, OLD.role, OLD.action,
         OLD.target_type, OLD.target_id, OLD.school_id, OLD.commune_id, OLD.outcome) THEN
    -- Linking an event written before chains were keyed into its chain, once.
    IF OLD.seq IS NULL AND NEW.seq IS NOT NULL AND NEW.erased_at IS NULL
       AND ROW(NEW.actor_label, NEW.source_ip, NEW.details) IS NOT DISTINCT FROM ROW(OLD.actor_label, OLD.source_ip, OLD.details) THEN
      RETURN NEW;
    END IF;
    -- Erasure: the personal fields and their salt blanked; the digest and the chain untouched.
    IF OLD.seq IS NOT NULL AND NEW.erased_at IS NOT NULL
       AND NEW.actor_label IS NULL AND NEW.source_ip IS NULL AND NEW.details = '{}'::jsonb AND NEW.personal_salt IS NULL
       AND ROW(NEW.chain_id, NEW.seq, NEW.personal_digest, NEW.prev_hash, NEW.hash)
           IS NOT DISTINCT FROM ROW(OLD.chain_id, OLD.seq, OLD.personal_digest, OLD.prev_hash, OLD.hash) THEN
      RETURN NEW;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit events are append-only: UPDATE refused (only erasure of personal fields is allowed)' USING ERRCODE = '42501';
END $$;
--> statement-breakpoint
CREATE FUNCTION audit_checkpoints_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('cartable.audit_purge', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit checkpoints are append-only: % refused', TG_OP USING ERRCODE = '42501';
END $$;
--> statement-breakpoint
CREATE FUNCTION audit_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = '42501';
END $$;
--> statement-breakpoint
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_guard();
--> statement-breakpoint
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
--> statement-breakpoint
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_guard();
--> statement-breakpoint
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
