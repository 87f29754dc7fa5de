import { describe, expect, it } from "vitest";
import type { FlowEvent } from "../features/policy/datapath.js";
import { FlowAggregator, MAX_SUMMARIES } from "./flow-summary.js";

const flow = (over: Partial<FlowEvent> = {}): FlowEvent => ({
  time: "2026-01-01T00:00:00.000Z",
  src: "10.0.0.1",
  dst: "10.0.0.2",
  proto: "tcp",
  sport: 40000,
  dport: 5432,
  verdict: "dropped",
  reason: "policy_default",
  bytes: 60,
  ...over,
});

describe("flow summaries for the control plane", () => {
  it("folds events of one flow and verdict into one row, whatever the source port", () => {
    const a = new FlowAggregator();
    a.add(flow());
    a.add(flow({ sport: 40001 }));
    a.add(flow({ verdict: "forwarded", reason: undefined }));
    expect(a.drain()).toEqual([
      {
        at: new Date("2026-01-01T00:00:00.000Z"),
        source: "10.0.0.1",
        destination: "10.0.0.2",
        protocol: "tcp",
        port: 5432,
        verdict: "dropped",
        reason: "policy_default",
        packets: 2,
        bytes: 120,
      },
      expect.objectContaining({ verdict: "forwarded", packets: 1 }),
    ]);
    expect(a.drain()).toEqual([]);
  });

  it("keeps the deciding rule, endpoint and direction, and sums what the datapath held back", () => {
    const a = new FlowAggregator();
    const deny = flow({
      direction: "ingress",
      namespace: "prod",
      pod: "db-1",
      ruleId: "default-deny",
      policies: ["prod/db-allow-web"],
    });
    a.add(deny);
    a.add({ ...deny, sport: 40002, suppressed: 40 });
    a.add(
      flow({
        verdict: "forwarded",
        reason: undefined,
        direction: "ingress",
        ruleId: "prod/db-allow-web/ingress[0]",
      }),
    );
    expect(a.drain()).toEqual([
      expect.objectContaining({
        verdict: "dropped",
        direction: "ingress",
        endpoint: "prod/db-1",
        ruleId: "default-deny",
        policies: ["prod/db-allow-web"],
        packets: 2,
        suppressed: 40,
      }),
      expect.objectContaining({ verdict: "forwarded", ruleId: "prod/db-allow-web/ingress[0]", packets: 1 }),
    ]);
  });

  it("stays within what the API accepts and counts what did not fit", () => {
    const a = new FlowAggregator();
    for (let i = 0; i <= MAX_SUMMARIES; i++)
      a.add(flow({ dport: i % 65536, dst: `10.0.${i >> 8}.${i & 255}` }));
    expect(a.overflow).toBe(1);
    expect(a.drain()).toHaveLength(MAX_SUMMARIES);
  });
});
