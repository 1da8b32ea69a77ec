CREATE INDEX "groups_organisation_idx" ON "groups" USING btree ("organisation_id");--> statement-breakpoint
CREATE INDEX "api_tokens_organisation_idx" ON "api_tokens" USING btree ("organisation_id");--> statement-breakpoint
CREATE INDEX "role_assignments_organisation_idx" ON "role_assignments" USING btree ("organisation_id");--> statement-breakpoint
CREATE INDEX "users_organisation_idx" ON "users" USING btree ("organisation_id");--> statement-breakpoint
CREATE INDEX "enrollment_tokens_organisation_idx" ON "enrollment_tokens" USING btree ("organisation_id");--> statement-breakpoint
CREATE INDEX "enrollment_tokens_group_idx" ON "enrollment_tokens" USING btree ("group_id") WHERE group_id is not null;--> statement-breakpoint
CREATE INDEX "enrollment_tokens_created_by_idx" ON "enrollment_tokens" USING btree ("created_by") WHERE created_by is not null;--> statement-breakpoint
CREATE INDEX "command_batches_organisation_idx" ON "command_batches" USING btree ("organisation_id");--> statement-breakpoint
CREATE INDEX "commands_organisation_idx" ON "commands" USING btree ("organisation_id");--> statement-breakpoint
ALTER TABLE "schools" ADD CONSTRAINT "schools_kind_ck" CHECK ("schools"."kind" in ('maternelle', 'elementaire', 'primaire'));--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_role_ck" CHECK ("api_tokens"."role" in ('admin', 'technician', 'director', 'auditor'));--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_scope_type_ck" CHECK ("api_tokens"."scope_type" in ('organisation', 'commune', 'school'));--> statement-breakpoint
ALTER TABLE "role_assignments" ADD CONSTRAINT "role_assignments_role_ck" CHECK ("role_assignments"."role" in ('admin', 'technician', 'director', 'auditor'));--> statement-breakpoint
ALTER TABLE "role_assignments" ADD CONSTRAINT "role_assignments_scope_type_ck" CHECK ("role_assignments"."scope_type" in ('organisation', 'commune', 'school'));--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_method_ck" CHECK ("sessions"."method" in ('password', 'oidc'));--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_status_ck" CHECK ("users"."status" in ('active', 'disabled'));--> statement-breakpoint
ALTER TABLE "device_locations" ADD CONSTRAINT "device_locations_source_ck" CHECK ("device_locations"."source" in ('locate', 'lost_mode', 'policy'));--> statement-breakpoint
ALTER TABLE "devices" ADD CONSTRAINT "devices_platform_ck" CHECK ("devices"."platform" in ('android', 'ios', 'windows'));--> statement-breakpoint
ALTER TABLE "devices" ADD CONSTRAINT "devices_status_ck" CHECK ("devices"."status" in ('active', 'wiped', 'retired'));--> statement-breakpoint
ALTER TABLE "enrollment_tokens" ADD CONSTRAINT "enrollment_tokens_platform_ck" CHECK ("enrollment_tokens"."platform" in ('android'));--> statement-breakpoint
ALTER TABLE "command_batches" ADD CONSTRAINT "command_batches_kind_ck" CHECK ("command_batches"."kind" in ('lock', 'wipe', 'reboot', 'shutdown', 'locate', 'lost_mode_on', 'lost_mode_off', 'refresh_inventory', 'message'));--> statement-breakpoint
ALTER TABLE "command_batches" ADD CONSTRAINT "command_batches_status_ck" CHECK ("command_batches"."status" in ('pending', 'done'));--> statement-breakpoint
ALTER TABLE "command_batches" ADD CONSTRAINT "command_batches_origin_ck" CHECK ("command_batches"."origin" in ('technician', 'campaign', 'profile', 'system'));--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_kind_ck" CHECK ("commands"."kind" in ('lock', 'wipe', 'reboot', 'shutdown', 'locate', 'lost_mode_on', 'lost_mode_off', 'refresh_inventory', 'message'));--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_status_ck" CHECK ("commands"."status" in ('queued', 'sent', 'acknowledged', 'executing', 'not_now', 'succeeded', 'failed', 'expired', 'cancelled'));--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_origin_ck" CHECK ("commands"."origin" in ('technician', 'campaign', 'profile', 'system'));--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_actor_type_ck" CHECK ("audit_events"."actor_type" in ('user', 'api_token', 'device', 'system'));--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_outcome_ck" CHECK ("audit_events"."outcome" in ('success', 'denied', 'failure'));--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_state_ck" CHECK ("idempotency_keys"."state" in ('pending', 'done'));