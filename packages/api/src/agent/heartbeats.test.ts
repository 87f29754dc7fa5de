// Many agents at once, as after every change: their credential lookups and heartbeats are
// batched (auth/node-credentials.ts, agent/heartbeats.ts), and each must still get exactly its
// own answer and its own row written — a revoked credential in the same batch stays refused.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, errorOf, type Harness } from "../test/harness";
import { HeartbeatWriter } from "./heartbeats";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

async function join(name: string, i: number) {
  const admin = await h.as("admin");
  const { secret } = await admin.joinTokens.create({ nodeName: name });
  return (await h.anon()).agent.join({
    token: secret,
    nodeName: name,
    addresses: [`192.168.7.${i + 1}/24`],
    podCIDRs: [`10.77.${i}.0/24`],
    agentVersion: "0.1.0",
  });
}

describe("agents acknowledging together", () => {
  it("forty heartbeats at once each write their own node's revision, and a revoked credential among them is refused", async () => {
    const joined = await Promise.all(Array.from({ length: 40 }, (_, i) => join(`hb-${i}`, i)));
    const revoked = joined[39]!;
    await (await h.as("admin")).nodes.revokeCredential({ id: revoked.nodeId });
    const results = await Promise.allSettled(
      joined.map(async (j, i) =>
        (await h.withToken(j.credential)).agent.heartbeat({
          appliedRevision: 1000 + i,
          agentVersion: `0.2.${i}`,
        }),
      ),
    );
    expect(results.slice(0, 39).every((r) => r.status === "fulfilled")).toBe(true);
    const refused = results[39]!;
    expect(refused.status).toBe("rejected");
    expect((refused as PromiseRejectedResult).reason.code).toBe("UNAUTHORIZED");
    const rows = await h.db.node.findMany({
      where: { name: { startsWith: "hb-" } },
      select: { name: true, appliedRevision: true, agentVersion: true, lastHeartbeatAt: true },
    });
    for (const r of rows) {
      const i = Number(r.name.slice(3));
      if (i === 39) {
        expect(r.appliedRevision).toBeNull();
        continue;
      }
      expect(r).toMatchObject({ appliedRevision: 1000 + i, agentVersion: `0.2.${i}` });
      expect(Math.abs(r.lastHeartbeatAt!.getTime() - Date.now())).toBeLessThan(60_000);
    }
  });

  it("two heartbeats of one node in one batch: the later revision wins, a field it leaves out keeps the earlier value", async () => {
    const j = await join("hb-twice", 99);
    const writer = new HeartbeatWriter(h.db, { maxWaitMs: 50 });
    const at = new Date("2026-12-01T12:00:00.123Z");
    await Promise.all([
      writer.write({ nodeId: j.nodeId, at, appliedRevision: 7, agentVersion: "0.3.0" }),
      writer.write({ nodeId: j.nodeId, at: new Date(at.getTime() + 1000), appliedRevision: 8 }),
    ]);
    const row = await h.db.node.findUniqueOrThrow({ where: { id: j.nodeId } });
    expect(row).toMatchObject({ appliedRevision: 8, agentVersion: "0.3.0" });
    // Stored in UTC to the millisecond, as Prisma reads it back.
    expect(row.lastHeartbeatAt?.toISOString()).toBe("2026-12-01T12:00:01.123Z");
  });

  it("a failed batch fails every heartbeat in it, and the next batch works", async () => {
    const j = await join("hb-fail", 98);
    const writer = new HeartbeatWriter(h.db, { maxWaitMs: 5 });
    // An invalid revision for the int column makes the one UPDATE fail.
    const bad = writer.write({ nodeId: j.nodeId, at: new Date(), appliedRevision: 2 ** 40 });
    const sameBatch = writer.write({ nodeId: "another", at: new Date(), appliedRevision: 1 });
    expect((await errorOf(() => bad)).message).toMatch(/out of range|integer/i);
    await expect(sameBatch).rejects.toThrow();
    await writer.write({ nodeId: j.nodeId, at: new Date(), appliedRevision: 5 });
    expect((await h.db.node.findUniqueOrThrow({ where: { id: j.nodeId } })).appliedRevision).toBe(5);
  });
});
