CREATE TABLE "amapi_devices" (
	"device_id" uuid PRIMARY KEY NOT NULL,
	"organisation_id" uuid NOT NULL,
	"google_name" text NOT NULL,
	"policy_name" text,
	"applied_policy_version" integer,
	"policy_compliant" boolean,
	"non_compliance" jsonb,
	"base_policy" jsonb,
	"desired_version" integer,
	"apps" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"last_publish_time" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "amapi_enrollment_tokens" (
	"token_id" uuid PRIMARY KEY NOT NULL,
	"google_name" text NOT NULL,
	"qr_code" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "amapi_enterprises" (
	"organisation_id" uuid PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"service_account_email" text NOT NULL,
	"credentials_sealed" text NOT NULL,
	"state" text NOT NULL,
	"signup_url_name" text,
	"enterprise_name" text,
	"enterprise_display_name" text,
	"notification_mode" text DEFAULT 'none' NOT NULL,
	"pubsub_topic" text,
	"pubsub_subscription" text,
	"push_audience" text,
	"push_service_account" text,
	"device_cap" integer DEFAULT 500 NOT NULL,
	"last_error" text,
	"last_error_at" timestamp with time zone,
	"bound_at" timestamp with time zone,
	"unbound_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "amapi_enterprises_state_ck" CHECK ("amapi_enterprises"."state" in ('signup_pending', 'bound', 'error', 'unbound')),
	CONSTRAINT "amapi_enterprises_notification_mode_ck" CHECK ("amapi_enterprises"."notification_mode" in ('pull', 'push', 'none'))
);
--> statement-breakpoint
CREATE TABLE "amapi_messages" (
	"message_id" text PRIMARY KEY NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "amapi_operations" (
	"command_id" uuid PRIMARY KEY NOT NULL,
	"device_id" uuid NOT NULL,
	"operation_name" text,
	"issued_at" timestamp with time zone,
	"checked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "amapi_policies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organisation_id" uuid NOT NULL,
	"name" text NOT NULL,
	"content_sha256" text NOT NULL,
	"policy" jsonb NOT NULL,
	"google_version" integer,
	"patched_at" timestamp with time zone,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "devices" ADD COLUMN "channel" text;--> statement-breakpoint
ALTER TABLE "amapi_devices" ADD CONSTRAINT "amapi_devices_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "amapi_devices" ADD CONSTRAINT "amapi_devices_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "amapi_enrollment_tokens" ADD CONSTRAINT "amapi_enrollment_tokens_token_id_enrollment_tokens_id_fk" FOREIGN KEY ("token_id") REFERENCES "public"."enrollment_tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "amapi_enterprises" ADD CONSTRAINT "amapi_enterprises_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "amapi_operations" ADD CONSTRAINT "amapi_operations_command_id_commands_id_fk" FOREIGN KEY ("command_id") REFERENCES "public"."commands"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "amapi_operations" ADD CONSTRAINT "amapi_operations_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "amapi_policies" ADD CONSTRAINT "amapi_policies_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "amapi_devices_google_name_uq" ON "amapi_devices" USING btree ("google_name");--> statement-breakpoint
CREATE INDEX "amapi_devices_organisation_idx" ON "amapi_devices" USING btree ("organisation_id");--> statement-breakpoint
CREATE UNIQUE INDEX "amapi_enterprises_name_uq" ON "amapi_enterprises" USING btree ("enterprise_name") WHERE enterprise_name is not null;--> statement-breakpoint
CREATE INDEX "amapi_messages_received_idx" ON "amapi_messages" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "amapi_operations_device_idx" ON "amapi_operations" USING btree ("device_id");--> statement-breakpoint
CREATE INDEX "amapi_operations_open_idx" ON "amapi_operations" USING btree ("checked_at") WHERE operation_name is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "amapi_policies_name_uq" ON "amapi_policies" USING btree ("name");--> statement-breakpoint
CREATE UNIQUE INDEX "amapi_policies_content_uq" ON "amapi_policies" USING btree ("organisation_id","content_sha256");--> statement-breakpoint
ALTER TABLE "devices" ADD CONSTRAINT "devices_channel_ck" CHECK ("devices"."channel" in ('amapi'));