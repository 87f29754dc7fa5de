-- CreateTable
CREATE TABLE "BgpRouteSnapshot" (
    "nodeId" TEXT NOT NULL,
    "peer" TEXT NOT NULL,
    "address" TEXT NOT NULL,
    "tables" JSONB NOT NULL,
    "reportedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "BgpRouteSnapshot_pkey" PRIMARY KEY ("nodeId","peer")
);

-- CreateIndex
CREATE INDEX "BgpRouteSnapshot_reportedAt_idx" ON "BgpRouteSnapshot"("reportedAt");

-- AddForeignKey
ALTER TABLE "BgpRouteSnapshot" ADD CONSTRAINT "BgpRouteSnapshot_nodeId_fkey" FOREIGN KEY ("nodeId") REFERENCES "Node"("id") ON DELETE CASCADE ON UPDATE CASCADE;
