// A change committed by this API process reaches its own subscribers at once, with no NOTIFY and
// no poll: the feed here has neither (it never connects), as on the embedded database.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChangeFeed, waitForRevision } from "../agent/change-feed";
import { appRouter } from "../root";
import { createHarness, type Harness } from "../test/harness";
import { createCallerFactory, createContext } from "../trpc";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h?.close());

describe("in-process change announcements", () => {
  it("a revision committed here wakes this process's subscribers without NOTIFY or a poll", async () => {
    const deaf = new ChangeFeed("postgresql://127.0.0.1:1/nowhere", 3_600_000);
    const ctx = await createContext({
      db: h.db,
      changeFeed: deaf,
      headers: new Headers({ authorization: `Bearer ${h.tokens.operator}` }),
    });
    const caller = createCallerFactory(appRouter)(ctx);
    // A subscriber binds the feed to the database it reads (as agent.desiredState does).
    const { feedFor } = await import("../agent/change-feed");
    feedFor(ctx);
    const woke = waitForRevision(deaf, 0, 5_000);
    const t0 = performance.now();
    const created = await caller.policies.create({
      namespace: "shop",
      name: "now",
      spec: { endpointSelector: {} },
    });
    const heard = await woke;
    expect(heard).toBe(created.revision);
    expect(performance.now() - t0).toBeLessThan(2_000);
    await deaf.stop();
  });
});
