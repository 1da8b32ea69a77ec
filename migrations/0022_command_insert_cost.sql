ALTER TABLE "commands" DROP CONSTRAINT "commands_organisation_id_organisations_id_fk";
--> statement-breakpoint
ALTER TABLE "commands" DROP CONSTRAINT "commands_device_id_devices_id_fk";
--> statement-breakpoint
DROP INDEX "campaign_targets_work_idx";--> statement-breakpoint
CREATE UNIQUE INDEX "devices_id_organisation_uq" ON "devices" USING btree ("id","organisation_id");--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_device_organisation_fk" FOREIGN KEY ("device_id","organisation_id") REFERENCES "public"."devices"("id","organisation_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "campaign_targets_work_idx" ON "campaign_targets" USING btree ("campaign_id","school_id","status","device_id") WHERE status in ('pending', 'sent');