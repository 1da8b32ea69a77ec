CREATE TABLE "windows_command_replies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"device_id" uuid NOT NULL,
	"command_id" uuid,
	"cmd_ref" text NOT NULL,
	"element" text NOT NULL,
	"verb" text,
	"code" integer,
	"raw" text NOT NULL,
	"session_id" text NOT NULL,
	"msg_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "windows_devices" (
	"device_id" uuid PRIMARY KEY NOT NULL,
	"windows_device_id" text NOT NULL,
	"hw_dev_id" text,
	"enrollment_type" text NOT NULL,
	"certificate_sha1" text NOT NULL,
	"certificate_sha256" text NOT NULL,
	"digest_user" text NOT NULL,
	"digest_hash_encrypted" text NOT NULL,
	"installed_profiles" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"last_session_id" text,
	"last_session_at" timestamp with time zone,
	"sessions" integer DEFAULT 0 NOT NULL,
	"unenrolled_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "windows_enrollment_pins" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organisation_id" uuid NOT NULL,
	"token_id" uuid NOT NULL,
	"user_name" text NOT NULL,
	"pin_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"device_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "windows_command_replies" ADD CONSTRAINT "windows_command_replies_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "windows_devices" ADD CONSTRAINT "windows_devices_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "windows_enrollment_pins" ADD CONSTRAINT "windows_enrollment_pins_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "windows_enrollment_pins" ADD CONSTRAINT "windows_enrollment_pins_token_id_enrollment_tokens_id_fk" FOREIGN KEY ("token_id") REFERENCES "public"."enrollment_tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "windows_enrollment_pins" ADD CONSTRAINT "windows_enrollment_pins_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "windows_command_replies_command_idx" ON "windows_command_replies" USING btree ("command_id");--> statement-breakpoint
CREATE INDEX "windows_command_replies_device_idx" ON "windows_command_replies" USING btree ("device_id");--> statement-breakpoint
CREATE UNIQUE INDEX "windows_devices_device_id_uq" ON "windows_devices" USING btree ("windows_device_id");--> statement-breakpoint
CREATE UNIQUE INDEX "windows_devices_cert_sha1_uq" ON "windows_devices" USING btree ("certificate_sha1");--> statement-breakpoint
CREATE UNIQUE INDEX "windows_enrollment_pins_hash_uq" ON "windows_enrollment_pins" USING btree ("pin_hash");--> statement-breakpoint
CREATE INDEX "windows_enrollment_pins_token_idx" ON "windows_enrollment_pins" USING btree ("token_id");--> statement-breakpoint
CREATE INDEX "windows_enrollment_pins_organisation_idx" ON "windows_enrollment_pins" USING btree ("organisation_id");--> statement-breakpoint
CREATE INDEX "windows_enrollment_pins_device_idx" ON "windows_enrollment_pins" USING btree ("device_id") WHERE device_id is not null;