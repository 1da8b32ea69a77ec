CREATE SEQUENCE "public"."location_policy_version_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "device_geofence_states" (
	"device_id" uuid PRIMARY KEY NOT NULL,
	"outside" boolean NOT NULL,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "geofence_alerts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organisation_id" uuid NOT NULL,
	"device_id" uuid NOT NULL,
	"school_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"location_id" bigint,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "geofence_alerts_kind_ck" CHECK ("geofence_alerts"."kind" in ('exit', 'return'))
);
--> statement-breakpoint
CREATE TABLE "geofences" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organisation_id" uuid NOT NULL,
	"school_id" uuid NOT NULL,
	"name" text NOT NULL,
	"shape" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "location_policies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organisation_id" uuid NOT NULL,
	"scope_type" text NOT NULL,
	"scope_id" uuid,
	"mode" text NOT NULL,
	"interval_minutes" integer,
	"hours" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"excluded_dates" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"version" bigint DEFAULT nextval('location_policy_version_seq') NOT NULL,
	"updated_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "location_policies_scope_ck" CHECK ("location_policies"."scope_type" in ('organisation', 'commune', 'school')),
	CONSTRAINT "location_policies_mode_ck" CHECK ("location_policies"."mode" in ('off', 'on_demand', 'school_hours'))
);
--> statement-breakpoint
ALTER TABLE "profile_rollouts" DROP CONSTRAINT "profile_rollouts_reason_ck";--> statement-breakpoint
ALTER TABLE "device_geofence_states" ADD CONSTRAINT "device_geofence_states_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "geofence_alerts" ADD CONSTRAINT "geofence_alerts_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "geofence_alerts" ADD CONSTRAINT "geofence_alerts_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "geofence_alerts" ADD CONSTRAINT "geofence_alerts_school_id_schools_id_fk" FOREIGN KEY ("school_id") REFERENCES "public"."schools"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "geofence_alerts" ADD CONSTRAINT "geofence_alerts_location_id_device_locations_id_fk" FOREIGN KEY ("location_id") REFERENCES "public"."device_locations"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "geofences" ADD CONSTRAINT "geofences_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "geofences" ADD CONSTRAINT "geofences_school_id_schools_id_fk" FOREIGN KEY ("school_id") REFERENCES "public"."schools"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "location_policies" ADD CONSTRAINT "location_policies_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "location_policies" ADD CONSTRAINT "location_policies_updated_by_users_id_fk" FOREIGN KEY ("updated_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "geofence_alerts_organisation_at_idx" ON "geofence_alerts" USING btree ("organisation_id","at");--> statement-breakpoint
CREATE INDEX "geofence_alerts_device_idx" ON "geofence_alerts" USING btree ("device_id");--> statement-breakpoint
CREATE INDEX "geofence_alerts_school_idx" ON "geofence_alerts" USING btree ("school_id");--> statement-breakpoint
CREATE INDEX "geofence_alerts_location_idx" ON "geofence_alerts" USING btree ("location_id") WHERE location_id is not null;--> statement-breakpoint
CREATE INDEX "geofences_organisation_idx" ON "geofences" USING btree ("organisation_id");--> statement-breakpoint
CREATE INDEX "geofences_school_idx" ON "geofences" USING btree ("school_id");--> statement-breakpoint
CREATE UNIQUE INDEX "location_policies_scope_uq" ON "location_policies" USING btree ("organisation_id","scope_type",coalesce("scope_id", '00000000-0000-0000-0000-000000000000'::uuid));--> statement-breakpoint
CREATE INDEX "location_policies_updated_by_idx" ON "location_policies" USING btree ("updated_by") WHERE updated_by is not null;--> statement-breakpoint
ALTER TABLE "profile_rollouts" ADD CONSTRAINT "profile_rollouts_reason_ck" CHECK ("profile_rollouts"."reason" in ('assign', 'unassign', 'edit', 'delete', 'location_policy'));