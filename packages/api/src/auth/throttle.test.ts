// Sign-in throttling and bounded password hashing, against real PostgreSQL and over real HTTP
// (the node:http server), as a person guessing passwords or a script flooding sign-ins sees it.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { appRouter } from "../root";
import { type RunningServer, startServer } from "../server";
import { createHarness, type Harness, PASSWORD } from "../test/harness";
import { createCallerFactory, createContext } from "../trpc";
import { CLIENT_ADDRESS_HEADER } from "./client-address";
import { hashPassword, passwordHashing } from "./crypto";
import { LoginThrottle } from "./throttle";

let h: Harness;
let server: RunningServer;
beforeAll(async () => {
  h = await createHarness();
  server = await startServer({ db: h.db });
});
afterAll(async () => {
  await server?.close();
  await h?.close();
});
afterEach(() => {
  vi.useRealTimers();
});

async function restLogin(email: string, password: string) {
  const r = await fetch(`${server.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  return {
    status: r.status,
    retryAfter: r.headers.get("retry-after"),
    body: (await r.json()) as { message?: string; sessionToken?: string },
  };
}

/** A sign-in as if from `address` (what a server layer would have stamped on the request). */
async function loginFrom(address: string, email: string, password: string) {
  const caller = createCallerFactory(appRouter)(
    await createContext({ db: h.db, headers: new Headers({ [CLIENT_ADDRESS_HEADER]: address }) }),
  );
  return caller.auth.login({ email, password }).then(
    () => "ok" as const,
    (e: { code?: string; retryAfterSeconds?: number }) => e.code ?? "error",
  );
}

async function newUser(email: string) {
  await h.db.user.create({ data: { email, role: "viewer", passwordHash: await hashPassword(PASSWORD) } });
}

describe("sign-in throttling (per account, per address, exponential backoff)", () => {
  // The clock stands still while guesses go in (a test moves it on purpose): on a loaded machine
  // hashed guesses can take longer than the first locks last, and these tests are about the locks.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
  });

  it("50 wrong passwords end in 429 with Retry-After; the right one is refused until the backoff ends", async () => {
    await newUser("guessed@test.local");
    const answers = [];
    for (let i = 0; i < 50; i++) answers.push(await restLogin("guessed@test.local", `wrong-${i}`));
    const refused = answers.filter((a) => a.status === 429);
    expect(answers.filter((a) => a.status !== 429).every((a) => a.status === 401)).toBe(true);
    expect(refused.length).toBeGreaterThanOrEqual(40);
    for (const a of refused) {
      expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(a.body.message).toMatch(/too many sign-in attempts; try again in \d+ s/);
    }

    const right = await restLogin("guessed@test.local", PASSWORD);
    expect(right.status).toBe(429);
    const wait = Number(right.retryAfter);
    expect(wait).toBeGreaterThanOrEqual(1);

    vi.setSystemTime(Date.now() + wait * 1000 - 2000);
    expect((await restLogin("guessed@test.local", PASSWORD)).status).toBe(429);
    vi.setSystemTime(Date.now() + 2500);
    const after = await restLogin("guessed@test.local", PASSWORD);
    expect(after.status).toBe(200);
    expect(after.body.sessionToken).toMatch(/^mrd_ses_/);
    // Success resets the account: the next mistake is an ordinary 401, not a lock.
    expect((await restLogin("guessed@test.local", "one-typo")).status).toBe(401);
    expect((await restLogin("guessed@test.local", PASSWORD)).status).toBe(200);
  });

  it("throttling one account does not lock another signing in from the same address", async () => {
    await newUser("locked@test.local");
    await newUser("bystander@test.local");
    for (let i = 0; i < 10; i++) await restLogin("locked@test.local", `wrong-${i}`);
    expect((await restLogin("locked@test.local", PASSWORD)).status).toBe(429);
    expect((await restLogin("bystander@test.local", PASSWORD)).status).toBe(200);
  });

  it("50 guesses sent at once get no more tries than the free ones before the lock", async () => {
    await newUser("burst@test.local");
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => loginFrom("198.51.100.9", "burst@test.local", `wrong-${i}`)),
    );
    expect(answers.filter((a) => a === "UNAUTHORIZED")).toHaveLength(5);
    expect(answers.filter((a) => a === "TOO_MANY_REQUESTS")).toHaveLength(45);
  });

  it("one address guessing at many accounts is throttled; other addresses are not", async () => {
    const answers = [];
    for (let i = 0; i < 30; i++)
      answers.push(await loginFrom("203.0.113.7", `nobody-${i}@test.local`, "guess"));
    expect(answers.slice(0, 20).every((a) => a === "UNAUTHORIZED")).toBe(true);
    expect(answers.slice(21)).toContain("TOO_MANY_REQUESTS");
    await newUser("elsewhere@test.local");
    expect(await loginFrom("203.0.113.7", "elsewhere@test.local", PASSWORD)).toBe("TOO_MANY_REQUESTS");
    expect(await loginFrom("192.0.2.50", "elsewhere@test.local", PASSWORD)).toBe("ok");
  });
});

describe("bounded password hashing", () => {
  it("200 concurrent sign-ins: at most K hashes at once, 429 beyond the queue, other users stay served", async () => {
    const hash = await hashPassword(PASSWORD);
    await h.db.user.createMany({
      data: Array.from({ length: 200 }, (_, i) => ({
        email: `flood-${i}@test.local`,
        role: "viewer" as const,
        passwordHash: hash,
      })),
    });
    const viewerCall = async () => {
      const t = performance.now();
      const r = await fetch(`${server.url}/api/v1/network-policies`, {
        headers: { authorization: `Bearer ${h.tokens.viewer}` },
      });
      expect(r.status).toBe(200);
      await r.arrayBuffer();
      return performance.now() - t;
    };
    const sample = async (n: number) => {
      const times: number[] = [];
      for (let i = 0; i < n; i++) times.push(await viewerCall());
      return times;
    };
    const p = (times: number[], q: number) =>
      [...times].sort((a, b) => a - b)[Math.min(times.length - 1, Math.floor(q * times.length))]!;

    const before = await sample(40);
    let peak = 0;
    const watch = setInterval(() => {
      peak = Math.max(peak, passwordHashing.stats.running);
    }, 2);
    let flooding = true;
    const flood = Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        loginFrom(`10.9.${i >> 8}.${i & 255}`, `flood-${i}@test.local`, PASSWORD),
      ),
    ).finally(() => {
      flooding = false;
    });
    // The other user keeps calling for as long as the flood lasts.
    const during: number[] = [];
    while (flooding || during.length < 40) during.push(await viewerCall());
    const outcomes = await flood;
    clearInterval(watch);

    const busy = outcomes.filter((o) => o === "TOO_MANY_REQUESTS").length;
    const ok = outcomes.filter((o) => o === "ok").length;
    console.log(
      `viewer REST p50/p99 before ${p(before, 0.5).toFixed(1)}/${p(before, 0.99).toFixed(1)} ms, during a 200-sign-in flood ${p(during, 0.5).toFixed(1)}/${p(during, 0.99).toFixed(1)} ms (${during.length} calls); ${ok} signed in, ${busy} told 429; peak hashes at once ${peak}`,
    );
    expect(ok + busy).toBe(200);
    expect(busy).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(passwordHashing.concurrency);
    // Generous: unbounded hashing pushed this to 5-9 s.
    expect(p(during, 0.99)).toBeLessThan(1500);
  });
});

describe("LoginThrottle (clock under test control)", () => {
  const rule = { freeFailures: 2, baseLockMs: 1000, maxLockMs: 8000, forgetAfterMs: 60_000 };
  it("doubles the lock with each failure past the free ones, up to the maximum, and forgets when quiet", () => {
    let now = 0;
    const t = new LoginThrottle({ account: rule, address: rule, now: () => now });
    const fail = () => t.admit("a", null).failed();
    const waitSeconds = () => {
      try {
        t.admit("a", null).abandoned();
        return 0;
      } catch (e) {
        return (e as { retryAfterSeconds: number }).retryAfterSeconds;
      }
    };
    fail();
    fail();
    expect(waitSeconds()).toBe(0);
    const locks = [];
    for (let i = 0; i < 5; i++) {
      fail();
      locks.push(waitSeconds());
      now += locks[i]! * 1000;
    }
    expect(locks).toEqual([1, 2, 4, 8, 8]);
    now += 61_000;
    fail();
    expect(waitSeconds()).toBe(0);
  });

  it("keeps a bounded number of keys", () => {
    const t = new LoginThrottle({ account: rule, address: rule, maxKeys: 3, now: () => 0 });
    for (const k of ["a", "b", "c", "d"]) for (let i = 0; i < 3; i++) t.admit(k, null).failed();
    // "a" was the least recently touched and was dropped; "d" is locked.
    expect(() => t.admit("a", null).abandoned()).not.toThrow();
    expect(() => t.admit("d", null)).toThrow(/try again in 1 s/);
  });
});
