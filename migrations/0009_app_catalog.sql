CREATE TABLE "app_versions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"app_id" uuid NOT NULL,
	"organisation_id" uuid NOT NULL,
	"version" text NOT NULL,
	"version_code" bigint,
	"sha256" text,
	"size_bytes" bigint,
	"signing_cert_sha256" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "apps" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organisation_id" uuid NOT NULL,
	"platform" text NOT NULL,
	"kind" text NOT NULL,
	"identifier" text NOT NULL,
	"name" text NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "apps_platform_ck" CHECK ("apps"."platform" in ('android', 'ios', 'windows')),
	CONSTRAINT "apps_kind_ck" CHECK ("apps"."kind" in ('apk', 'app_store', 'in_house', 'msi', 'msix'))
);
--> statement-breakpoint
ALTER TABLE "command_batches" DROP CONSTRAINT "command_batches_kind_ck";--> statement-breakpoint
ALTER TABLE "commands" DROP CONSTRAINT "commands_kind_ck";--> statement-breakpoint
ALTER TABLE "app_versions" ADD CONSTRAINT "app_versions_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "app_versions" ADD CONSTRAINT "app_versions_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "app_versions" ADD CONSTRAINT "app_versions_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "apps" ADD CONSTRAINT "apps_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "apps" ADD CONSTRAINT "apps_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "app_versions_app_idx" ON "app_versions" USING btree ("app_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "app_versions_app_version_uq" ON "app_versions" USING btree ("app_id","version");--> statement-breakpoint
CREATE INDEX "app_versions_sha256_idx" ON "app_versions" USING btree ("sha256");--> statement-breakpoint
CREATE UNIQUE INDEX "apps_org_platform_identifier_uq" ON "apps" USING btree ("organisation_id","platform","identifier");--> statement-breakpoint
ALTER TABLE "command_batches" ADD CONSTRAINT "command_batches_kind_ck" CHECK ("command_batches"."kind" in ('lock', 'wipe', 'reboot', 'shutdown', 'locate', 'lost_mode_on', 'lost_mode_off', 'refresh_inventory', 'message', 'refresh_apps', 'lost_mode_sound', 'install_profile', 'remove_profile', 'profile_list', 'install_app', 'remove_app', 'apply_policy'));--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_kind_ck" CHECK ("commands"."kind" in ('lock', 'wipe', 'reboot', 'shutdown', 'locate', 'lost_mode_on', 'lost_mode_off', 'refresh_inventory', 'message', 'refresh_apps', 'lost_mode_sound', 'install_profile', 'remove_profile', 'profile_list', 'install_app', 'remove_app', 'apply_policy'));