CREATE INDEX "device_events_received_idx" ON "device_events" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "device_locations_received_idx" ON "device_locations" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "commands_finished_idx" ON "commands" USING btree ("completed_at") WHERE status in ('succeeded', 'failed', 'expired', 'cancelled');