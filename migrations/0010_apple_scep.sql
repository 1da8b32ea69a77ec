CREATE TABLE "apple_scep_challenges" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organisation_id" uuid NOT NULL,
	"token_id" uuid NOT NULL,
	"challenge_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "apple_scep_challenges_challenge_hash_unique" UNIQUE("challenge_hash")
);
--> statement-breakpoint
CREATE TABLE "apple_scep_enrollments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organisation_id" uuid NOT NULL,
	"school_id" uuid NOT NULL,
	"group_id" uuid,
	"token_id" uuid,
	"challenge_id" uuid,
	"device_id" uuid NOT NULL,
	"serial_hex" text NOT NULL,
	"fingerprint_sha256" text NOT NULL,
	"spki_sha256" text NOT NULL,
	"cert_pem" text NOT NULL,
	"not_before" timestamp with time zone NOT NULL,
	"not_after" timestamp with time zone NOT NULL,
	"claimed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "apple_scep_enrollments_device_id_unique" UNIQUE("device_id"),
	CONSTRAINT "apple_scep_enrollments_serial_hex_unique" UNIQUE("serial_hex"),
	CONSTRAINT "apple_scep_enrollments_fingerprint_sha256_unique" UNIQUE("fingerprint_sha256")
);
--> statement-breakpoint
ALTER TABLE "apple_scep_challenges" ADD CONSTRAINT "apple_scep_challenges_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "apple_scep_challenges" ADD CONSTRAINT "apple_scep_challenges_token_id_enrollment_tokens_id_fk" FOREIGN KEY ("token_id") REFERENCES "public"."enrollment_tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "apple_scep_enrollments" ADD CONSTRAINT "apple_scep_enrollments_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "public"."organisations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "apple_scep_enrollments" ADD CONSTRAINT "apple_scep_enrollments_school_id_schools_id_fk" FOREIGN KEY ("school_id") REFERENCES "public"."schools"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "apple_scep_enrollments" ADD CONSTRAINT "apple_scep_enrollments_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "apple_scep_enrollments" ADD CONSTRAINT "apple_scep_enrollments_token_id_enrollment_tokens_id_fk" FOREIGN KEY ("token_id") REFERENCES "public"."enrollment_tokens"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "apple_scep_enrollments" ADD CONSTRAINT "apple_scep_enrollments_challenge_id_apple_scep_challenges_id_fk" FOREIGN KEY ("challenge_id") REFERENCES "public"."apple_scep_challenges"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "apple_scep_challenges_token_idx" ON "apple_scep_challenges" USING btree ("token_id");--> statement-breakpoint
CREATE INDEX "apple_scep_challenges_organisation_idx" ON "apple_scep_challenges" USING btree ("organisation_id");--> statement-breakpoint
CREATE INDEX "apple_scep_challenges_expires_idx" ON "apple_scep_challenges" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "apple_scep_enrollments_school_idx" ON "apple_scep_enrollments" USING btree ("school_id");--> statement-breakpoint
CREATE INDEX "apple_scep_enrollments_organisation_idx" ON "apple_scep_enrollments" USING btree ("organisation_id");--> statement-breakpoint
CREATE INDEX "apple_scep_enrollments_token_idx" ON "apple_scep_enrollments" USING btree ("token_id") WHERE token_id is not null;--> statement-breakpoint
CREATE INDEX "apple_scep_enrollments_challenge_idx" ON "apple_scep_enrollments" USING btree ("challenge_id") WHERE challenge_id is not null;--> statement-breakpoint
CREATE INDEX "apple_scep_enrollments_group_idx" ON "apple_scep_enrollments" USING btree ("group_id") WHERE group_id is not null;