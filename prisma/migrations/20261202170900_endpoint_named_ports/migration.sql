-- Named container ports of an endpoint, which policies' named ports (toPorts port: "http") resolve to.
ALTER TABLE "Endpoint" ADD COLUMN "ports" JSONB NOT NULL DEFAULT '[]';
