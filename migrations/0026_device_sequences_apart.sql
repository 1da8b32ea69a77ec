CREATE TABLE "device_sequences" (
	"device_id" uuid PRIMARY KEY NOT NULL,
	"max_seq" bigint NOT NULL,
	"previous_max_seq" bigint
);
--> statement-breakpoint
ALTER TABLE "device_sequences" SET (fillfactor = 50);--> statement-breakpoint
ALTER TABLE "device_sequences" ADD CONSTRAINT "device_sequences_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
INSERT INTO "device_sequences" ("device_id", "max_seq") SELECT "id", "agent_max_seq" FROM "devices" WHERE "agent_max_seq" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "devices" DROP COLUMN "agent_max_seq";
