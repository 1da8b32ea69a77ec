DROP INDEX "campaign_targets_work_idx";--> statement-breakpoint
CREATE INDEX "campaign_targets_work_idx" ON "campaign_targets" USING btree ("campaign_id","school_id","device_id");--> statement-breakpoint
ALTER TABLE "campaign_targets" SET (fillfactor = 50);