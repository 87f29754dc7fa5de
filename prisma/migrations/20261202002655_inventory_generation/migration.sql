-- CreateTable
CREATE TABLE "InventoryGeneration" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "value" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "InventoryGeneration_pkey" PRIMARY KEY ("id")
);

-- The one row every inventory change increments.
INSERT INTO "InventoryGeneration" ("id", "value") VALUES (1, 0);
