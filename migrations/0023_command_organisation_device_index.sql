DROP INDEX "commands_organisation_idx";--> statement-breakpoint
CREATE INDEX "commands_organisation_idx" ON "commands" USING btree ("organisation_id","device_id");