CREATE TABLE "device_push" (
	"device_id" uuid PRIMARY KEY NOT NULL,
	"provider" text NOT NULL,
	"token" text NOT NULL,
	"project_id" text,
	"last_push_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "device_certificates" ADD COLUMN "spki_sha256" text;--> statement-breakpoint
ALTER TABLE "device_certificates" ADD COLUMN "pending" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "device_certificates" ADD COLUMN "cert_pem" text;--> statement-breakpoint
ALTER TABLE "device_events" ADD COLUMN "time_unverified" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "device_locations" ADD COLUMN "time_unverified" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "devices" ADD COLUMN "agent_version_code" integer;--> statement-breakpoint
ALTER TABLE "devices" ADD COLUMN "previous_device_id" uuid;--> statement-breakpoint
ALTER TABLE "devices" ADD COLUMN "agent_max_seq" bigint;--> statement-breakpoint
ALTER TABLE "devices" ADD COLUMN "report_request" jsonb;--> statement-breakpoint
ALTER TABLE "device_push" ADD CONSTRAINT "device_push_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "devices" ADD CONSTRAINT "devices_previous_device_id_devices_id_fk" FOREIGN KEY ("previous_device_id") REFERENCES "public"."devices"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "devices_previous_idx" ON "devices" USING btree ("previous_device_id") WHERE previous_device_id is not null;