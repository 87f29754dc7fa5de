// Gateway health probes between two real agents' health endpoints on loopback (127.0.0.1 probes
// 127.0.0.2, the same UDP port): an answering gateway is healthy, a silent one is failed after the
// timeout, one that says it cannot serve a policy is failed for that policy only, and a gateway
// that answers again is healthy only after answering for a whole timeout.
import { afterEach, describe, expect, it } from "vitest";
import { EgressHealth } from "./health";

const open: EgressHealth[] = [];
afterEach(() => {
  for (const h of open.splice(0)) h.close();
});

async function endpoint(node: string, bind: string, port: number, cannotServe: () => string[] = () => []) {
  let changes = 0;
  const h = new EgressHealth({ nodeName: node, bind, port, cannotServe, onChange: () => changes++ });
  await h.start();
  open.push(h);
  return { h, changes: () => changes };
}

const until = async (what: string, ok: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now();
};

describe("EgressHealth", () => {
  it("answering: healthy; silent: failed after the timeout; back: healthy after answering for a timeout", async () => {
    let down: string[] = [];
    const gw = await endpoint("gw", "127.0.0.2", 0, () => down);
    const port = gw.h.port();
    const src = await endpoint("src", "127.0.0.1", port);
    // A timeout of 600 ms: loaded CI machines delay timers by a few hundred ms.
    src.h.setTargets([{ node: "gw", address: "127.0.0.2", intervalMs: 100, timeoutMs: 600 }]);
    await until("an answer", () => src.h.health("gw", "127.0.0.2", "p").lastAckAt !== undefined);
    expect(src.h.health("gw", "127.0.0.2", "p")).toMatchObject({ healthy: true });

    // It says it cannot serve p (its uplink is down): failed for p, not for q.
    down = ["p"];
    await until("p reported down", () => src.h.health("gw", "127.0.0.2", "p").reason === "cannot serve");
    expect(src.h.health("gw", "127.0.0.2", "q").healthy).toBe(true);
    down = [];
    await until("p served again", () => src.h.health("gw", "127.0.0.2", "p").healthy);

    // Its agent stops: failed once the timeout passed, not before.
    const stopped = Date.now();
    gw.h.close();
    const failed = await until("failed", () => !src.h.health("gw", "127.0.0.2", "p").healthy);
    expect(failed - stopped).toBeGreaterThanOrEqual(350);
    expect(failed - stopped).toBeLessThan(1_500);
    expect(src.h.health("gw", "127.0.0.2", "p").reason).toBe("timeout");
    expect(src.changes()).toBeGreaterThan(0);

    // It comes back: recovering first, healthy once it answered for a whole timeout.
    const back = await endpoint("gw", "127.0.0.2", port);
    await until("recovering", () => src.h.health("gw", "127.0.0.2", "p").reason === "recovering");
    const answeredAt = Date.now();
    const healthyAt = await until("healthy again", () => src.h.health("gw", "127.0.0.2", "p").healthy);
    expect(healthyAt - answeredAt).toBeGreaterThanOrEqual(400);
    back.h.close();
  });

  it("an answer from another node at the probed address does not count", async () => {
    const impostor = await endpoint("other", "127.0.0.2", 0);
    const src = await endpoint("src", "127.0.0.1", impostor.h.port());
    src.h.setTargets([{ node: "gw", address: "127.0.0.2", intervalMs: 100, timeoutMs: 300 }]);
    // Benefit of the doubt for one timeout, then failed: "other" answered, not "gw".
    expect(src.h.health("gw", "127.0.0.2", "p").healthy).toBe(true);
    await until("failed", () => !src.h.health("gw", "127.0.0.2", "p").healthy);
    expect(src.h.health("gw", "127.0.0.2", "p").lastAckAt).toBeUndefined();
  });
});
