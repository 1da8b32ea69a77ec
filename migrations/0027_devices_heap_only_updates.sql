ALTER TABLE "devices" SET (fillfactor = 50);
