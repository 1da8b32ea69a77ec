CREATE TABLE "campaign_targets" (
	"campaign_id" uuid NOT NULL,
	"device_id" uuid NOT NULL,
	"school_id" uuid NOT NULL,
	"platform" text NOT NULL,
	"wave" integer NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"command_id" uuid,
	"next_attempt_at" timestamp with time zone,
	"reason" text,
	"joined" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "campaign_targets_campaign_id_device_id_pk" PRIMARY KEY("campaign_id","device_id"),
	CONSTRAINT "campaign_targets_status_ck" CHECK ("campaign_targets"."status" in ('pending', 'sent', 'succeeded', 'failed', 'skipped')),
	CONSTRAINT "campaign_targets_platform_ck" CHECK ("campaign_targets"."platform" in ('android', 'ios', 'windows'))
);
--> statement-breakpoint
CREATE TABLE "campaign_templates" (
	"organisation_id" uuid PRIMARY KEY NOT NULL,
	"plan" jsonb NOT NULL,
	"auto_update_app_ids" uuid[] DEFAULT '{}'::uuid[] NOT NULL,
	"updated_by" uuid,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "campaign_waves" (
	"campaign_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"name" text NOT NULL,
	"school_ids" uuid[],
	"min_success_pct" integer NOT NULL,
	"max_failure_pct" integer NOT NULL,
	"promotion" text DEFAULT 'auto' NOT NULL,
	"status" text DEFAULT 'waiting' NOT NULL,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"approved_by" uuid,
	CONSTRAINT "campaign_waves_campaign_id_position_pk" PRIMARY KEY("campaign_id","position"),
	CONSTRAINT "campaign_waves_status_ck" CHECK ("campaign_waves"."status" in ('waiting', 'running', 'awaiting_approval', 'passed', 'failed', 'cancelled')),
	CONSTRAINT "campaign_waves_promotion_ck" CHECK ("campaign_waves"."promotion" in ('auto', 'approval'))
);
--> statement-breakpoint
CREATE TABLE "campaigns" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organisation_id" uuid NOT NULL,
	"name" text NOT NULL,
	"action" text NOT NULL,
	"subject" jsonb NOT NULL,
	"app_id" uuid,
	"target" jsonb NOT NULL,
	"scope_school_ids" uuid[],
	"status" text DEFAULT 'draft' NOT NULL,
	"start_at" timestamp with time zone NOT NULL,
	"deadline" timestamp with time zone,
	"windows" jsonb NOT NULL,
	"time_zone" text,
	"excluded" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"per_school_cap" integer NOT NULL,
	"retry" jsonb NOT NULL,
	"offline_days" integer DEFAULT 30 NOT NULL,
	"revision" integer DEFAULT 1 NOT NULL,
	"created_by" uuid,
	"origin" text DEFAULT 'manual' NOT NULL,
	"started_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "campaigns_action_ck" CHECK ("campaigns"."action" in ('install_app', 'remove_app', 'install_profile', 'remove_profile')),
	CONSTRAINT "campaigns_status_ck" CHECK ("campaigns"."status" in ('draft', 'running', 'paused', 'completed', 'failed', 'cancelled'))
);
--> statement-breakpoint
ALTER TABLE "campaign_targets" ADD CONSTRAINT "campaign_targets_campaign_id_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_targets" ADD CONSTRAINT "campaign_targets_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_targets" ADD CONSTRAINT "campaign_targets_school_id_schools_id_fk" FOREIGN KEY ("school_id") REFERENCES "public"."schools"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_templates" ADD CONSTRAINT "campaign_templates_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_templates" ADD CONSTRAINT "campaign_templates_updated_by_users_id_fk" FOREIGN KEY ("updated_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_waves" ADD CONSTRAINT "campaign_waves_campaign_id_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_waves" ADD CONSTRAINT "campaign_waves_approved_by_users_id_fk" FOREIGN KEY ("approved_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "campaign_targets_work_idx" ON "campaign_targets" USING btree ("campaign_id","school_id","status") WHERE status in ('pending', 'sent');--> statement-breakpoint
CREATE INDEX "campaign_targets_device_idx" ON "campaign_targets" USING btree ("device_id");--> statement-breakpoint
CREATE INDEX "campaign_targets_school_idx" ON "campaign_targets" USING btree ("school_id");--> statement-breakpoint
CREATE UNIQUE INDEX "campaign_targets_command_uq" ON "campaign_targets" USING btree ("command_id") WHERE command_id is not null;--> statement-breakpoint
CREATE INDEX "campaign_templates_updated_by_idx" ON "campaign_templates" USING btree ("updated_by") WHERE updated_by is not null;--> statement-breakpoint
CREATE INDEX "campaign_waves_approved_by_idx" ON "campaign_waves" USING btree ("approved_by") WHERE approved_by is not null;--> statement-breakpoint
CREATE INDEX "campaigns_organisation_idx" ON "campaigns" USING btree ("organisation_id","created_at");--> statement-breakpoint
CREATE INDEX "campaigns_active_idx" ON "campaigns" USING btree ("status") WHERE status in ('running', 'paused');--> statement-breakpoint
CREATE INDEX "campaigns_app_idx" ON "campaigns" USING btree ("app_id") WHERE app_id is not null;--> statement-breakpoint
CREATE INDEX "campaigns_created_by_idx" ON "campaigns" USING btree ("created_by") WHERE created_by is not null;--> statement-breakpoint
CREATE INDEX "commands_campaign_open_idx" ON "commands" USING btree ("campaign_id") WHERE campaign_id is not null and status in ('queued', 'sent', 'acknowledged', 'executing', 'not_now');