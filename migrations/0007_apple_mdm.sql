CREATE TABLE "apple_devices" (
	"device_id" uuid PRIMARY KEY NOT NULL,
	"udid" text NOT NULL,
	"topic" text NOT NULL,
	"enrollment_state" text DEFAULT 'authenticated' NOT NULL,
	"token_hex" text,
	"push_magic" text,
	"unlock_token_encrypted" text,
	"supervised" boolean DEFAULT false NOT NULL,
	"awaiting_configuration" boolean DEFAULT false NOT NULL,
	"token_invalid_at" timestamp with time zone,
	"last_push_at" timestamp with time zone,
	"authenticated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"token_updated_at" timestamp with time zone,
	"checked_out_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "apple_devices_enrollment_state_ck" CHECK ("apple_devices"."enrollment_state" in ('authenticated', 'enrolled', 'checked_out'))
);
--> statement-breakpoint
CREATE TABLE "apple_push_certificates" (
	"organisation_id" uuid PRIMARY KEY NOT NULL,
	"topic" text,
	"cert_pem" text,
	"key_encrypted_pem" text,
	"not_after" timestamp with time zone,
	"pending_key_encrypted_pem" text,
	"pending_csr_pem" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "command_batches" DROP CONSTRAINT "command_batches_kind_ck";--> statement-breakpoint
ALTER TABLE "commands" DROP CONSTRAINT "commands_kind_ck";--> statement-breakpoint
ALTER TABLE "apple_devices" ADD CONSTRAINT "apple_devices_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "apple_push_certificates" ADD CONSTRAINT "apple_push_certificates_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "apple_devices_udid_idx" ON "apple_devices" USING btree ("udid");--> statement-breakpoint
CREATE INDEX "apple_push_certificates_topic_idx" ON "apple_push_certificates" USING btree ("topic") WHERE topic is not null;--> statement-breakpoint
ALTER TABLE "command_batches" ADD CONSTRAINT "command_batches_kind_ck" CHECK ("command_batches"."kind" in ('lock', 'wipe', 'reboot', 'shutdown', 'locate', 'lost_mode_on', 'lost_mode_off', 'refresh_inventory', 'message', 'refresh_apps', 'lost_mode_sound', 'install_profile', 'remove_profile', 'profile_list'));--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_kind_ck" CHECK ("commands"."kind" in ('lock', 'wipe', 'reboot', 'shutdown', 'locate', 'lost_mode_on', 'lost_mode_off', 'refresh_inventory', 'message', 'refresh_apps', 'lost_mode_sound', 'install_profile', 'remove_profile', 'profile_list'));