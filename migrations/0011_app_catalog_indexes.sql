CREATE INDEX "app_versions_organisation_idx" ON "app_versions" USING btree ("organisation_id");--> statement-breakpoint
CREATE INDEX "app_versions_created_by_idx" ON "app_versions" USING btree ("created_by") WHERE created_by is not null;--> statement-breakpoint
CREATE INDEX "apps_created_by_idx" ON "apps" USING btree ("created_by") WHERE created_by is not null;