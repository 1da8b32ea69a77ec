CREATE TABLE "device_profiles" (
	"device_id" uuid NOT NULL,
	"profile_id" uuid NOT NULL,
	"organisation_id" uuid NOT NULL,
	"slug" text NOT NULL,
	"version" integer NOT NULL,
	"status" text NOT NULL,
	"command_id" uuid NOT NULL,
	"error" jsonb,
	"verified_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "device_profiles_device_id_profile_id_pk" PRIMARY KEY("device_id","profile_id"),
	CONSTRAINT "device_profiles_status_ck" CHECK ("device_profiles"."status" in ('pending', 'installed', 'failed', 'removing'))
);
--> statement-breakpoint
ALTER TABLE "device_profiles" ADD CONSTRAINT "device_profiles_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "device_profiles_profile_idx" ON "device_profiles" USING btree ("profile_id");--> statement-breakpoint
CREATE INDEX "device_profiles_command_idx" ON "device_profiles" USING btree ("command_id");