-- iPads and Windows tablets held desired states that nothing had delivered: forgotten, so that the next change reaching them sends every profile of their set.
DELETE FROM "device_desired_states" WHERE "device_id" IN (SELECT "id" FROM "devices" WHERE "platform" IN ('ios', 'windows'));
