// The procedure layer of trpc.ts as an HTTP client meets it, against real PostgreSQL: whose name a
// change is recorded under (person, token, node), which requests the origin check refuses, the
// raw-input guard, how validation errors are summarised, what a 500 says and logs, database
// refusals mapped to the 4xx they stand for, and the keep-alive of live subscriptions.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setErrorLogger } from "./limits/errors";
import { type RunningServer, startServer } from "./server";
import { createHarness, type Harness, PASSWORD } from "./test/harness";
import { SESSION_COOKIE } from "./trpc";

let h: Harness;
let api: RunningServer;
let session: string;

beforeAll(async () => {
  h = await createHarness();
  api = await startServer({ db: h.db, changeFeed: h.feed });
  session = (await (await h.anon()).auth.login({ email: "admin@test.local", password: PASSWORD }))
    .sessionToken;
});
afterAll(async () => {
  await api?.close();
  await h?.close();
});

interface TrpcErrorShape {
  message: string;
  code: number;
  data: { code: string; httpStatus: number; fieldErrors: Record<string, string[]> | null; stack?: string };
}

interface Answer {
  status: number;
  text: string;
  result: unknown;
  error: TrpcErrorShape | undefined;
}

async function send(path: string, init: RequestInit): Promise<Answer> {
  const res = await fetch(`${api.url}${path}`, init);
  const text = await res.text();
  let json: { result?: { data?: { json?: unknown } }; error?: { json?: TrpcErrorShape } } | null = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, text, result: json?.result?.data?.json, error: json?.error?.json };
}

const bearer = (role: "admin" | "operator" | "viewer" = "admin") => ({
  authorization: `Bearer ${h.tokens[role]}`,
});
const cookie = () => ({ cookie: `${SESSION_COOKIE}=${encodeURIComponent(session)}` });

/** A tRPC mutation as the console's client sends it (superjson body). */
function mutation(path: string, input: unknown, headers: Record<string, string> = bearer()) {
  return send(`/api/trpc/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ json: input }),
  });
}

/** A tRPC query (GET, input in the query string). */
function query(path: string, input: unknown, headers: Record<string, string> = bearer()) {
  const q = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify({ json: input }))}`;
  return send(`/api/trpc/${path}${q}`, { headers });
}

/** Runs `fn` with the server's error log captured. */
async function withLog<T>(fn: (logged: Record<string, unknown>[]) => Promise<T>): Promise<T> {
  const logged: Record<string, unknown>[] = [];
  const previous = setErrorLogger({ error: (d) => logged.push(d) });
  try {
    return await fn(logged);
  } finally {
    setErrorLogger(previous);
  }
}

async function latestRevision() {
  const a = await query("audit.list", { limit: 1 });
  return (a.result as { items: { authorKind: string; authorName: string; message: string }[] }).items[0];
}

describe("who a change is recorded under", () => {
  it("a person signed in, an API token and a node credential each sign their changes", async () => {
    const asPerson = await mutation("joinTokens.create", { description: "by session" }, cookie());
    expect(asPerson.status).toBe(200);
    expect(await latestRevision()).toMatchObject({ authorKind: "user", authorName: "admin@test.local" });

    const asToken = await mutation(
      "policies.create",
      {
        namespace: "actors",
        name: "by-token",
        spec: { endpointSelector: {} },
      },
      bearer("operator"),
    );
    expect(asToken.status).toBe(200);
    expect(asToken.result).toMatchObject({ updatedBy: "operator@test.local (token operator token)" });
    expect(await latestRevision()).toMatchObject({
      authorKind: "token",
      authorName: "operator@test.local (token operator token)",
    });
    // The revision also keeps which user and which token (for an auditor reading the database).
    const rows = await h.db.revision.findMany({ orderBy: { number: "desc" }, take: 2 });
    const token = await h.db.apiToken.findFirstOrThrow({ where: { name: "operator token" } });
    expect(rows.map((r) => r.authorId)).toEqual([token.id, h.userIds.admin]);

    // A node's reports are signed with its name.
    const join = await mutation("joinTokens.create", { nodeName: "actor-node" });
    const { secret } = join.result as { secret: string };
    const joined = await mutation(
      "agent.join",
      { token: secret, nodeName: "actor-node", podCIDRs: ["10.71.0.0/24"] },
      {},
    );
    const { credential } = joined.result as { credential: string };
    const report = await mutation(
      "agent.reportEndpoints",
      { endpoints: [{ namespace: "actors", name: "pod-1", labels: { app: "a" }, ipv4: "10.71.0.5" }] },
      { authorization: `Bearer ${credential}` },
    );
    expect(report.status, report.text).toBe(200);
    const listed = await query("endpoints.list", { node: "actor-node" }, bearer("viewer"));
    expect(listed.result).toMatchObject({ items: [{ name: "pod-1", updatedBy: "node actor-node" }] });
  });

  it("the cookie the console sets under SESSION_COOKIE is the one the API reads", async () => {
    const me = await query("auth.me", undefined, cookie());
    expect(me.result).toMatchObject({ kind: "user", role: "admin", user: { email: "admin@test.local" } });
  });
});

describe("the origin check on cookie-authenticated requests", () => {
  const fromAnotherSite = { "sec-fetch-site": "cross-site", origin: "http://wiki.example" };

  it("a write from another site is refused with the reason, and nothing is written", async () => {
    const before = await h.db.joinToken.count();
    const a = await mutation(
      "joinTokens.create",
      { description: "forged" },
      { ...fromAnotherSite, ...cookie() },
    );
    expect(a.status).toBe(403);
    expect(a.error?.message).toBe(
      "cross-origin request refused: the browser says it came from a cross-site page",
    );
    expect(a.error?.data.code).toBe("FORBIDDEN");
    expect(await h.db.joinToken.count()).toBe(before);
  });

  it("a read opened from a link on another site is answered: it changes nothing", async () => {
    // A link to a REST read, or the console's own query, followed from a wiki or a chat: the browser
    // sends the session cookie (SameSite=lax allows top-level GETs) and says where it came from.
    const rest = await fetch(`${api.url}/api/v1/join-tokens`, {
      headers: { ...fromAnotherSite, "sec-fetch-mode": "navigate", ...cookie() },
    });
    expect(rest.status).toBe(200);
    const q = await query("joinTokens.list", {}, { ...fromAnotherSite, ...cookie() });
    expect(q.status, q.text).toBe(200);
  });
});

describe("the raw-input guard", () => {
  it("a NUL byte in free text is refused by field before the database sees it", async () => {
    const before = await h.db.user.count();
    const a = await mutation("users.create", {
      email: "nul@test.local",
      name: "Ann\u0000Other",
      password: PASSWORD,
      role: "viewer",
    });
    expect(a.status).toBe(400);
    expect(a.error?.message).toBe("name: contains a NUL byte at position 3; remove it");
    expect(a.error?.data.fieldErrors).toEqual({ name: ["contains a NUL byte at position 3; remove it"] });
    expect(await h.db.user.count()).toBe(before);
  });

  it("a document field the procedure declares long (Cilium YAML) may pass the general string limit", async () => {
    const yaml = [
      "apiVersion: cilium.io/v2",
      "kind: CiliumNetworkPolicy",
      "metadata: { name: long-yaml, namespace: imports }",
      "spec: { endpointSelector: {} }",
      // Exported files carry long comments and annotations; 100,000 characters is past 65,536.
      `# ${"x".repeat(100_000)}`,
    ].join("\n");
    const a = await mutation("cilium.import", { yaml, dryRun: true }, bearer("operator"));
    expect(a.status, a.text.slice(0, 300)).toBe(200);
    expect(JSON.stringify(a.result)).toContain("long-yaml");
  });
});

describe("validation errors", () => {
  it("more than ten problems: the message lists ten and counts the rest; fieldErrors has all", async () => {
    const matchLabels = Object.fromEntries(
      Array.from({ length: 12 }, (_, i) => [`k${String(i).padStart(2, "0")}`, "\uD800"]),
    );
    const a = await mutation("policies.create", {
      namespace: "v",
      name: "many",
      spec: { endpointSelector: { matchLabels } },
    });
    expect(a.status).toBe(400);
    const why = "is not valid Unicode text (a lone surrogate)";
    const parts = a.error!.message.split("; ");
    expect(parts).toHaveLength(11);
    expect(parts[10]).toBe("and 2 more");
    for (const p of parts.slice(0, 10)) expect(p).toMatch(/^spec\.endpointSelector\.matchLabels\.k\d\d: /);
    for (const p of parts.slice(0, 10)) expect(p.endsWith(`: ${why}`), p).toBe(true);
    expect(Object.keys(a.error!.data.fieldErrors!).sort()).toEqual(
      Object.keys(matchLabels).map((k) => `spec.endpointSelector.matchLabels.${k}`),
    );
    expect(Object.values(a.error!.data.fieldErrors!)).toEqual(Array(12).fill([why]));
  });

  it("exactly ten problems are all listed, with nothing counted as more", async () => {
    const matchLabels = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, "\uD800"]));
    const a = await mutation("policies.create", {
      namespace: "v",
      name: "ten",
      spec: { endpointSelector: { matchLabels } },
    });
    expect(a.status).toBe(400);
    expect(a.error!.message.split("; ")).toHaveLength(10);
    expect(a.error!.message).not.toContain("more");
  });

  it("a problem deep in the input is named by its dotted path; one with the input itself by '_'", async () => {
    const deep = await mutation("policies.create", {
      namespace: "v",
      name: "deep",
      spec: { endpointSelector: {}, egress: [{ toCIDR: ["10.0.0.0/8", "not-a-cidr"] }] },
    });
    expect(deep.status).toBe(400);
    expect(Object.keys(deep.error!.data.fieldErrors!)).toEqual(["spec.egress.0.toCIDR.1"]);
    expect(deep.error!.message).toMatch(/^spec\.egress\.0\.toCIDR\.1: \S/);

    const whole = await mutation("policies.create", "not an object");
    expect(whole.status).toBe(400);
    expect(Object.keys(whole.error!.data.fieldErrors!)).toEqual(["_"]);
    // No path, so no "path: " before the reason.
    expect(whole.error!.message).toBe(whole.error!.data.fieldErrors!._![0]);
    expect(whole.error!.message).toMatch(/^Invalid input/);
  });

  it("errors that are not about fields carry no fieldErrors, and no error carries a stack", async () => {
    const missing = await query("policies.get", { id: "00000000-0000-4000-8000-000000000000" });
    expect(missing.status).toBe(404);
    expect(missing.error?.data.fieldErrors).toBeNull();
    expect(missing.error?.data).not.toHaveProperty("stack");
    const bad = await mutation("policies.create", "not an object");
    expect(bad.error?.data).not.toHaveProperty("stack");
  });
});

describe("unexpected failures", () => {
  const INTERNAL = /^internal error \(request id ([0-9a-f-]{36})\); the details are in the server log$/;

  it("inside a procedure: a 500 with a request id, logged once with the procedure and the cause", async () => {
    await h.db.$executeRawUnsafe('ALTER TABLE "JoinToken" RENAME TO "JoinTokenGone"');
    try {
      await withLog(async (logged) => {
        const a = await query("joinTokens.list", {});
        expect(a.status).toBe(500);
        const id = INTERNAL.exec(a.error?.message ?? "")?.[1];
        expect(id, a.error?.message).toBeDefined();
        expect(a.error?.data.fieldErrors).toBeNull();
        expect(a.error?.data).not.toHaveProperty("stack");
        expect(a.text.toLowerCase()).not.toMatch(/prisma|jointokengone|relation|\.ts:/);
        expect(logged).toHaveLength(1);
        expect(logged[0]).toMatchObject({ requestId: id, path: "joinTokens.list", type: "query" });
        // The log names the database's own error, not the wrapper tRPC put around it.
        expect(logged[0]!.error).not.toBe("TRPCError");
        expect(JSON.stringify(logged[0])).toMatch(/JoinToken/);
      });
    } finally {
      await h.db.$executeRawUnsafe('ALTER TABLE "JoinTokenGone" RENAME TO "JoinToken"');
    }
  });

  it("before any procedure runs (the credential lookup fails): the same 500, logged once", async () => {
    await h.db.$executeRawUnsafe('ALTER TABLE "ApiToken" RENAME TO "ApiTokenGone"');
    try {
      await withLog(async (logged) => {
        const a = await query("joinTokens.list", {});
        expect(a.status).toBe(500);
        const id = INTERNAL.exec(a.error?.message ?? "")?.[1];
        expect(id, a.error?.message).toBeDefined();
        expect(a.error?.data.fieldErrors).toBeNull();
        expect(a.text.toLowerCase()).not.toMatch(/prisma|apitokengone|relation|\.ts:/);
        expect(logged).toHaveLength(1);
        expect(logged[0]).toMatchObject({ requestId: id, path: "joinTokens.list", type: "query" });
        expect(logged[0]!.error).not.toBe("TRPCError");
        expect(JSON.stringify(logged[0])).toMatch(/ApiToken/);
      });
    } finally {
      await h.db.$executeRawUnsafe('ALTER TABLE "ApiTokenGone" RENAME TO "ApiToken"');
    }
  });

  it("a database refusal the procedure does not handle itself is the 4xx it stands for, not a 500", async () => {
    // A unique rule the join-token code does not expect stands in for any refusal PostgreSQL can
    // make mid-write (a race, a constraint added later): the caller gets a conflict, not a 500.
    await h.db.$executeRawUnsafe(
      'CREATE UNIQUE INDEX "trpc_test_one_per_description" ON "JoinToken" ("description")',
    );
    try {
      await withLog(async (logged) => {
        const first = await mutation("joinTokens.create", { description: "only once" });
        expect(first.status).toBe(200);
        const before = await h.db.revision.count();
        const second = await mutation("joinTokens.create", { description: "only once" });
        expect(second.status, second.text).toBe(409);
        expect(second.error?.data.code).toBe("CONFLICT");
        expect(second.error?.message).toMatch(/^an object with this .* already exists$/);
        expect(await h.db.revision.count()).toBe(before);
        expect(logged).toEqual([]);
      });
    } finally {
      await h.db.$executeRawUnsafe('DROP INDEX "trpc_test_one_per_description"');
    }
  });
});

describe("live subscriptions over SSE", () => {
  it("tell the client to reconnect after 40 s of silence, and ping every 15 s while quiet", async () => {
    const abort = new AbortController();
    const res = await fetch(`${api.url}/api/trpc/status.live`, {
      headers: { ...bearer("viewer"), accept: "text/event-stream" },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const events: { event: string; data: string; at: number }[] = [];
    const t0 = Date.now();
    let buffer = "";
    try {
      while (!events.some((e) => e.event === "ping") && Date.now() - t0 < 25_000) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
          const data = /^data: (.*)$/m.exec(block)?.[1] ?? "";
          events.push({ event, data, at: Date.now() - t0 });
          end = buffer.indexOf("\n\n");
        }
      }
    } finally {
      abort.abort();
    }
    expect(events[0]).toMatchObject({ event: "connected" });
    expect(JSON.parse(events[0]!.data)).toEqual({ reconnectAfterInactivityMs: 40_000 });
    // The overview itself, then (nothing reporting) a ping about 15 s after it.
    expect(events[1]?.event).toBe("message");
    const ping = events.find((e) => e.event === "ping");
    expect(ping, JSON.stringify(events)).toBeDefined();
    expect(ping!.at - events[1]!.at).toBeGreaterThan(13_000);
  }, 40_000);
});
