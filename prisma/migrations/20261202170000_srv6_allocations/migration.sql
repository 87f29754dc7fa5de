-- CreateTable
CREATE TABLE "Srv6LocatorAllocation" (
    "nodeId" TEXT NOT NULL,
    "poolId" TEXT NOT NULL,
    "slot" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Srv6LocatorAllocation_pkey" PRIMARY KEY ("nodeId","poolId")
);

-- CreateTable
CREATE TABLE "Srv6SidAllocation" (
    "nodeId" TEXT NOT NULL,
    "vrfRowId" TEXT NOT NULL,
    "poolId" TEXT NOT NULL,
    "function" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Srv6SidAllocation_pkey" PRIMARY KEY ("nodeId","vrfRowId")
);

-- CreateIndex
CREATE UNIQUE INDEX "Srv6LocatorAllocation_poolId_slot_key" ON "Srv6LocatorAllocation"("poolId", "slot");

-- CreateIndex
CREATE INDEX "Srv6SidAllocation_vrfRowId_idx" ON "Srv6SidAllocation"("vrfRowId");

-- CreateIndex
CREATE INDEX "Srv6SidAllocation_poolId_idx" ON "Srv6SidAllocation"("poolId");

-- CreateIndex
CREATE UNIQUE INDEX "Srv6SidAllocation_nodeId_poolId_function_key" ON "Srv6SidAllocation"("nodeId", "poolId", "function");

-- AddForeignKey
ALTER TABLE "Srv6LocatorAllocation" ADD CONSTRAINT "Srv6LocatorAllocation_nodeId_fkey" FOREIGN KEY ("nodeId") REFERENCES "Node"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Srv6LocatorAllocation" ADD CONSTRAINT "Srv6LocatorAllocation_poolId_fkey" FOREIGN KEY ("poolId") REFERENCES "Srv6LocatorPool"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Srv6SidAllocation" ADD CONSTRAINT "Srv6SidAllocation_nodeId_fkey" FOREIGN KEY ("nodeId") REFERENCES "Node"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Srv6SidAllocation" ADD CONSTRAINT "Srv6SidAllocation_vrfRowId_fkey" FOREIGN KEY ("vrfRowId") REFERENCES "Srv6Vrf"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Srv6SidAllocation" ADD CONSTRAINT "Srv6SidAllocation_poolId_fkey" FOREIGN KEY ("poolId") REFERENCES "Srv6LocatorPool"("id") ON DELETE CASCADE ON UPDATE CASCADE;
