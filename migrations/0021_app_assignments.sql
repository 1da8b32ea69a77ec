CREATE TABLE "app_assignments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organisation_id" uuid NOT NULL,
	"app_id" uuid NOT NULL,
	"app_version_id" uuid NOT NULL,
	"scope_type" text NOT NULL,
	"scope_key" text NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "app_assignments_scope_ck" CHECK ("app_assignments"."scope_type" in ('organisation', 'commune', 'school', 'group', 'platform', 'tag'))
);
--> statement-breakpoint
CREATE TABLE "device_assigned_apps" (
	"device_id" uuid NOT NULL,
	"app_id" uuid NOT NULL,
	"organisation_id" uuid NOT NULL,
	"app_version_id" uuid NOT NULL,
	"action" text NOT NULL,
	"command_id" uuid NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "device_assigned_apps_device_id_app_id_pk" PRIMARY KEY("device_id","app_id"),
	CONSTRAINT "device_assigned_apps_action_ck" CHECK ("device_assigned_apps"."action" in ('install', 'remove'))
);
--> statement-breakpoint
ALTER TABLE "profile_rollouts" DROP CONSTRAINT "profile_rollouts_reason_ck";--> statement-breakpoint
ALTER TABLE "app_assignments" ADD CONSTRAINT "app_assignments_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "app_assignments" ADD CONSTRAINT "app_assignments_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "app_assignments" ADD CONSTRAINT "app_assignments_app_version_id_app_versions_id_fk" FOREIGN KEY ("app_version_id") REFERENCES "public"."app_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "app_assignments" ADD CONSTRAINT "app_assignments_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "device_assigned_apps" ADD CONSTRAINT "device_assigned_apps_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "app_assignments_uq" ON "app_assignments" USING btree ("app_id","scope_type","scope_key");--> statement-breakpoint
CREATE INDEX "app_assignments_org_idx" ON "app_assignments" USING btree ("organisation_id","scope_type","scope_key");--> statement-breakpoint
CREATE INDEX "app_assignments_version_idx" ON "app_assignments" USING btree ("app_version_id");--> statement-breakpoint
CREATE INDEX "app_assignments_created_by_idx" ON "app_assignments" USING btree ("created_by") WHERE created_by is not null;--> statement-breakpoint
CREATE INDEX "device_assigned_apps_app_idx" ON "device_assigned_apps" USING btree ("app_id");--> statement-breakpoint
ALTER TABLE "profile_rollouts" ADD CONSTRAINT "profile_rollouts_reason_ck" CHECK ("profile_rollouts"."reason" in ('assign', 'unassign', 'edit', 'delete', 'location_policy', 'app_assign', 'app_unassign'));