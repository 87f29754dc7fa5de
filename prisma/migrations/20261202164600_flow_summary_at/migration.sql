-- The console reads flow records across nodes by time (flows.query, flows.drops).
CREATE INDEX "FlowSummary_at_idx" ON "FlowSummary"("at");
