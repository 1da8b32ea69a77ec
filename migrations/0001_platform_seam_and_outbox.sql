CREATE TABLE "command_batches" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organisation_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"target" jsonb NOT NULL,
	"scope_school_ids" uuid[],
	"origin" text NOT NULL,
	"issued_by" uuid,
	"expires_at" timestamp with time zone NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"cursor" uuid,
	"eligible" integer NOT NULL,
	"created" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"owner" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"status_code" integer,
	"content_type" text,
	"response_sealed" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
DROP INDEX "commands_pending_idx";--> statement-breakpoint
DROP INDEX "commands_in_flight_idx";--> statement-breakpoint
ALTER TABLE "device_events" ADD COLUMN "message_id" uuid;--> statement-breakpoint
ALTER TABLE "device_events" ADD COLUMN "position" integer;--> statement-breakpoint
ALTER TABLE "device_locations" ADD COLUMN "message_id" uuid;--> statement-breakpoint
ALTER TABLE "devices" ADD COLUMN "capabilities" text[];--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "result_message_id" uuid;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "late_result" jsonb;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "cancel_notified_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "command_batches" ADD CONSTRAINT "command_batches_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "command_batches" ADD CONSTRAINT "command_batches_issued_by_users_id_fk" FOREIGN KEY ("issued_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "command_batches_pending_idx" ON "command_batches" USING btree ("created_at") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "command_batches_issued_by_idx" ON "command_batches" USING btree ("issued_by") WHERE issued_by is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "idempotency_keys_owner_key_uq" ON "idempotency_keys" USING btree ("owner","key");--> statement-breakpoint
CREATE UNIQUE INDEX "device_events_message_uq" ON "device_events" USING btree ("device_id","message_id","position") WHERE message_id is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "device_locations_message_uq" ON "device_locations" USING btree ("device_id","message_id") WHERE message_id is not null;--> statement-breakpoint
CREATE INDEX "devices_group_idx" ON "devices" USING btree ("group_id") WHERE group_id is not null;--> statement-breakpoint
CREATE INDEX "commands_open_idx" ON "commands" USING btree ("device_id","created_at") WHERE status in ('queued', 'sent', 'acknowledged', 'executing', 'not_now');--> statement-breakpoint
CREATE INDEX "commands_cancel_pending_idx" ON "commands" USING btree ("device_id") WHERE status = 'cancelled' and sent_at is not null and cancel_notified_at is null;--> statement-breakpoint
CREATE INDEX "commands_issued_by_idx" ON "commands" USING btree ("issued_by") WHERE issued_by is not null;--> statement-breakpoint
CREATE INDEX "commands_in_flight_idx" ON "commands" USING btree ("status","sent_at") WHERE status in ('queued', 'sent', 'acknowledged', 'executing', 'not_now');--> statement-breakpoint
ALTER TABLE "commands" DROP COLUMN "payload";