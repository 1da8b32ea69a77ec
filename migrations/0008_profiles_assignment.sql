CREATE SEQUENCE "public"."desired_state_version_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "device_desired_states" (
	"device_id" uuid PRIMARY KEY NOT NULL,
	"organisation_id" uuid NOT NULL,
	"version" bigint NOT NULL,
	"profiles" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"desired_at" timestamp with time zone DEFAULT now() NOT NULL,
	"applied_version" bigint,
	"applied_at" timestamp with time zone,
	"non_compliance" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"rejected_version" bigint,
	"rejection_errors" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"reported_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "profile_assignments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organisation_id" uuid NOT NULL,
	"profile_id" uuid NOT NULL,
	"scope_type" text NOT NULL,
	"scope_key" text NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "profile_assignments_scope_ck" CHECK ("profile_assignments"."scope_type" in ('organisation', 'commune', 'school', 'group', 'platform', 'tag'))
);
--> statement-breakpoint
CREATE TABLE "profile_rollouts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organisation_id" uuid NOT NULL,
	"reason" text NOT NULL,
	"profile_id" uuid NOT NULL,
	"scope_type" text,
	"scope_key" text,
	"issued_by" uuid,
	"status" text DEFAULT 'pending' NOT NULL,
	"cursor" uuid,
	"changed" integer DEFAULT 0 NOT NULL,
	"commands" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	CONSTRAINT "profile_rollouts_scope_ck" CHECK ("profile_rollouts"."scope_type" in ('organisation', 'commune', 'school', 'group', 'platform', 'tag')),
	CONSTRAINT "profile_rollouts_reason_ck" CHECK ("profile_rollouts"."reason" in ('assign', 'unassign', 'edit', 'delete')),
	CONSTRAINT "profile_rollouts_status_ck" CHECK ("profile_rollouts"."status" in ('pending', 'done'))
);
--> statement-breakpoint
CREATE TABLE "profiles" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organisation_id" uuid NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"version" integer DEFAULT 1 NOT NULL,
	"body" jsonb NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "command_batches" DROP CONSTRAINT "command_batches_kind_ck";--> statement-breakpoint
ALTER TABLE "commands" DROP CONSTRAINT "commands_kind_ck";--> statement-breakpoint
ALTER TABLE "device_desired_states" ADD CONSTRAINT "device_desired_states_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "profile_assignments" ADD CONSTRAINT "profile_assignments_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "profile_assignments" ADD CONSTRAINT "profile_assignments_profile_id_profiles_id_fk" FOREIGN KEY ("profile_id") REFERENCES "public"."profiles"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "profile_assignments" ADD CONSTRAINT "profile_assignments_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "profile_rollouts" ADD CONSTRAINT "profile_rollouts_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "profile_rollouts" ADD CONSTRAINT "profile_rollouts_issued_by_users_id_fk" FOREIGN KEY ("issued_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "profiles" ADD CONSTRAINT "profiles_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "profiles" ADD CONSTRAINT "profiles_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "device_desired_states_org_idx" ON "device_desired_states" USING btree ("organisation_id");--> statement-breakpoint
CREATE UNIQUE INDEX "profile_assignments_uq" ON "profile_assignments" USING btree ("profile_id","scope_type","scope_key");--> statement-breakpoint
CREATE INDEX "profile_assignments_org_idx" ON "profile_assignments" USING btree ("organisation_id","scope_type","scope_key");--> statement-breakpoint
CREATE INDEX "profile_assignments_created_by_idx" ON "profile_assignments" USING btree ("created_by") WHERE created_by is not null;--> statement-breakpoint
CREATE INDEX "profile_rollouts_pending_idx" ON "profile_rollouts" USING btree ("created_at") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "profile_rollouts_organisation_idx" ON "profile_rollouts" USING btree ("organisation_id");--> statement-breakpoint
CREATE INDEX "profile_rollouts_issued_by_idx" ON "profile_rollouts" USING btree ("issued_by") WHERE issued_by is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "profiles_org_slug_uq" ON "profiles" USING btree ("organisation_id","slug");--> statement-breakpoint
CREATE INDEX "profiles_created_by_idx" ON "profiles" USING btree ("created_by") WHERE created_by is not null;--> statement-breakpoint
ALTER TABLE "command_batches" ADD CONSTRAINT "command_batches_kind_ck" CHECK ("command_batches"."kind" in ('lock', 'wipe', 'reboot', 'shutdown', 'locate', 'lost_mode_on', 'lost_mode_off', 'refresh_inventory', 'message', 'refresh_apps', 'lost_mode_sound', 'install_profile', 'remove_profile', 'profile_list', 'apply_policy'));--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_kind_ck" CHECK ("commands"."kind" in ('lock', 'wipe', 'reboot', 'shutdown', 'locate', 'lost_mode_on', 'lost_mode_off', 'refresh_inventory', 'message', 'refresh_apps', 'lost_mode_sound', 'install_profile', 'remove_profile', 'profile_list', 'apply_policy'));