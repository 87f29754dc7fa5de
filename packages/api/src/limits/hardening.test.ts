// The findings of the attack on the console, each tried again over real HTTP (tRPC and REST)
// against a real PostgreSQL: every one is refused with a 4xx that names the field, nothing is
// written, and nothing of the server's internals comes back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../server";
import { createHarness, type Harness, PASSWORD } from "../test/harness";
import { setErrorLogger } from "./errors";
import { MAX_BATCH, MAX_BODY_BYTES } from "./http";

let h: Harness;
let api: RunningServer;
let session: string;

beforeAll(async () => {
  h = await createHarness();
  api = await startServer({ db: h.db, changeFeed: h.feed });
  const login = await (await h.anon()).auth.login({ email: "admin@test.local", password: PASSWORD });
  session = login.sessionToken;
});
afterAll(async () => {
  await api?.close();
  await h?.close();
});

interface Answer {
  status: number;
  text: string;
  json: unknown;
}

async function send(
  path: string,
  init: RequestInit & { headers?: Record<string, string> } = {},
): Promise<Answer> {
  const res = await fetch(`${api.url}${path}`, init);
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, text, json };
}

const bearer = (role: "admin" | "operator" | "viewer" = "admin") => ({
  authorization: `Bearer ${h.tokens[role]}`,
});

/** A tRPC mutation over HTTP with a superjson body, as the console's client sends it. */
function trpc(path: string, input: unknown, headers: Record<string, string> = bearer()) {
  return send(`/api/trpc/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ json: input }),
  });
}

function trpcError(a: Answer) {
  return (
    a.json as {
      error?: {
        json?: { message: string; data?: { code: string; fieldErrors?: Record<string, string[]> | null } };
      };
    }
  )?.error?.json;
}

/** Everything a write would leave behind. */
async function written() {
  const [revisions, entries, policies, tokens, users, egress, nodes] = await Promise.all([
    h.db.revision.count(),
    h.db.auditEntry.count(),
    h.db.networkPolicy.count(),
    h.db.joinToken.count(),
    h.db.user.count(),
    h.db.egressGatewayPolicy.count(),
    h.db.node.count(),
  ]);
  return { revisions, entries, policies, tokens, users, egress, nodes };
}

describe("hostile input over HTTP", () => {
  it("a __proto__ label key is refused by name, through tRPC and REST, and no selector widens", async () => {
    const before = await written();
    const spec = JSON.parse('{"endpointSelector":{"matchLabels":{"__proto__":"x"}}}');
    const viaTrpc = await trpc("policies.create", { namespace: "shop", name: "proto", spec });
    expect(viaTrpc.status).toBe(400);
    expect(Object.keys(trpcError(viaTrpc)?.data?.fieldErrors ?? {})).toEqual([
      "spec.endpointSelector.matchLabels.__proto__",
    ]);
    const viaRest = await send("/api/v1/network-policies", {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer() },
      body: '{"namespace":"shop","name":"proto","spec":{"endpointSelector":{"matchLabels":{"__proto__":"x"}}}}',
    });
    expect(viaRest.status).toBe(400);
    expect(viaRest.text).toContain("spec.endpointSelector.matchLabels.__proto__");
    // A node selector takes the same path.
    const viaNode = await trpc("nodes.create", JSON.parse('{"name":"n-proto","labels":{"constructor":"x"}}'));
    expect(viaNode.status).toBe(400);
    expect(await written()).toEqual(before);
  });

  it("a NUL byte in any text, body or query string, is a 400 naming the field, never a 500", async () => {
    const before = await written();
    const cases: [string, Promise<Answer>, string][] = [
      [
        "policy description",
        trpc("policies.create", {
          namespace: "shop",
          name: "nul",
          description: "a\u0000b",
          spec: { endpointSelector: {} },
        }),
        "description",
      ],
      [
        "revision message",
        trpc("policies.create", {
          namespace: "shop",
          name: "nul",
          message: "\u0000",
          spec: { endpointSelector: {} },
        }),
        "message",
      ],
      [
        "user name",
        trpc("users.create", {
          email: "nul@test.local",
          name: "n\u0000",
          role: "viewer",
          password: "long enough password",
        }),
        "name",
      ],
      ["token name", trpc("apiTokens.create", { name: "t\u0000", role: "viewer" }), "name"],
      [
        "search",
        send(`/api/v1/network-policies?search=${encodeURIComponent("\u0000")}`, { headers: bearer() }),
        "search",
      ],
    ];
    for (const [what, answer, field] of cases) {
      const a = await answer;
      expect(a.status, `${what}: ${a.text}`).toBe(400);
      expect(a.text, what).toContain(field);
      expect(a.text, what).toContain("NUL");
    }
    expect(await written()).toEqual(before);
  });

  it("numbers and ids the database cannot hold are 400s before they reach it", async () => {
    for (const path of [
      "/api/v1/revisions/1000000000000000",
      "/api/v1/endpoints?offset=1e20",
      "/api/v1/nodes?limit=-1",
    ]) {
      const a = await send(path, { headers: bearer() });
      expect(a.status, `${path}: ${a.text}`).toBe(400);
      expect(a.text.toLowerCase()).not.toMatch(/prisma|invocation|postgres|sql/);
    }
    const nul = await send("/api/v1/nodes/%00", { headers: bearer() });
    expect([400, 404]).toContain(nul.status);
  });

  it("a megabyte string or key is refused with a short answer that names the field", async () => {
    const before = await written();
    const big = "n".repeat(1_000_000);
    const gateway = await trpc("egress.create", {
      name: "big",
      spec: {
        selectors: [{ podSelector: {} }],
        destinationCIDRs: ["192.0.2.0/24"],
        gateways: [{ nodeName: big, egressIP: "192.0.2.10" }],
      },
    });
    expect(gateway.status).toBe(400);
    expect(gateway.text.length).toBeLessThan(4000);
    expect(Object.keys(trpcError(gateway)?.data?.fieldErrors ?? {})).toContain("spec.gateways.0.nodeName");
    const key = await trpc("policies.create", {
      namespace: "shop",
      name: "bigkey",
      spec: { endpointSelector: { matchLabels: { [big]: "x" } } },
    });
    expect(key.status).toBe(400);
    expect(key.text.length).toBeLessThan(4000);
    expect(await written()).toEqual(before);
  });

  it("deep nesting and huge lists are refused before any schema walks them", async () => {
    // 100,000 levels: written out by hand, since JSON.stringify itself would overflow the stack.
    const deep = `${"[".repeat(100_000)}"x"${"]".repeat(100_000)}`;
    const a = await send("/api/trpc/policies.create", {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer() },
      body: `{"json":{"namespace":"shop","name":"deep","spec":{"endpointSelector":{},"ingress":${deep}}}}`,
    });
    expect(a.status).toBe(400);
    expect(a.text).toContain("nested more than");
    const many = await trpc("policies.create", {
      namespace: "shop",
      name: "many",
      spec: {
        endpointSelector: {},
        ingress: [{ fromCIDR: Array.from({ length: 20_000 }, () => "10.0.0.0/8") }],
      },
    });
    expect(many.status).toBe(400);
    expect(many.text).toContain("20,000 items");
  });
});

describe("request limits", () => {
  it(`a tRPC batch of more than ${MAX_BATCH} calls is refused whole, and runs none of them`, async () => {
    const before = await written();
    const paths = Array.from({ length: 200 }, () => "agent.join").join(",");
    const input = Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [i, { json: { token: "mrd_join_x", nodeName: `n${i}` } }]),
    );
    const a = await send(`/api/trpc/${paths}?batch=1`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(input),
    });
    expect(a.status).toBe(400);
    expect(a.text).toContain("Batch call exceeds maximum size");
    expect(await written()).toEqual(before);
  });

  it(`a body over ${MAX_BODY_BYTES} bytes is a 413, and a form post a 415`, async () => {
    const big = await send("/api/trpc/policies.create", {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer() },
      body: "x".repeat(MAX_BODY_BYTES + 1),
    });
    expect(big.status).toBe(413);
    const form = new FormData();
    form.set("description", "from a form");
    const before = await written();
    const multipart = await send("/api/trpc/joinTokens.create", {
      method: "POST",
      headers: { cookie: `meridian_session=${session}` },
      body: form,
    });
    expect(multipart.status).toBe(415);
    expect(await written()).toEqual(before);
  });

  it("API responses are never cached or sniffed", async () => {
    const a = await fetch(`${api.url}/api/trpc/joinTokens.create`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer() },
      body: JSON.stringify({ json: {} }),
    });
    expect(a.status).toBe(200);
    expect(a.headers.get("cache-control")).toBe("no-store");
    expect(a.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("cross-origin writes", () => {
  const cookie = () => ({ cookie: `meridian_session=${session}` });

  it("a cookie-authenticated write from another origin is refused; from the console's own it works", async () => {
    const host = new URL(api.url).host;
    const before = await written();
    for (const headers of [
      { origin: "http://evil.example", ...cookie() },
      // Another port on the same host is another origin, though the same site.
      { origin: `http://${host.split(":")[0]}:1`, ...cookie() },
      { "sec-fetch-site": "same-site", ...cookie() },
      { origin: "null", ...cookie() },
    ]) {
      const a = await trpc("joinTokens.create", {}, headers);
      expect(a.status, JSON.stringify(headers)).toBe(403);
      expect(trpcError(a)?.message).toContain("cross-origin request refused");
    }
    expect(await written()).toEqual(before);
    const own = await trpc(
      "joinTokens.create",
      {},
      { origin: `http://${host}`, "sec-fetch-site": "same-origin", ...cookie() },
    );
    expect(own.status).toBe(200);
  });

  it("sign-in and sign-out from another origin are refused", async () => {
    const login = await trpc(
      "auth.login",
      { email: "admin@test.local", password: PASSWORD },
      { origin: "http://evil.example" },
    );
    expect(login.status).toBe(403);
    const logout = await trpc("auth.logout", {}, { origin: "http://evil.example", ...cookie() });
    expect(logout.status).toBe(403);
    // The session is still good.
    const me = await send("/api/v1/auth/me", { headers: cookie() });
    expect(me.text).toContain("admin@test.local");
  });

  it("token-authenticated automation is unaffected by an Origin header", async () => {
    const a = await trpc("joinTokens.create", {}, { origin: "http://automation.example", ...bearer() });
    expect(a.status).toBe(200);
  });
});

describe("errors never leak internals", () => {
  it("an unexpected failure is a 500 with a request id; the details go to the server log only", async () => {
    const logged: Record<string, unknown>[] = [];
    const previous = setErrorLogger({ error: (d) => logged.push(d) });
    // Break the database under the API: the users table is gone.
    await h.db.$executeRawUnsafe('ALTER TABLE "User" RENAME TO "UserGone"');
    try {
      const a = await send("/api/v1/users", { headers: bearer() });
      expect(a.status).toBe(500);
      const message = (a.json as { message: string }).message;
      expect(message).toMatch(/^internal error \(request id [0-9a-f-]{36}\)/);
      expect(a.text.toLowerCase()).not.toMatch(/prisma|usergone|relation|invocation|stack|\.ts:/);
      const id = /request id ([0-9a-f-]{36})/.exec(message)?.[1];
      const entry = logged.find((l) => l.requestId === id);
      expect(entry, "the log has the same request id").toBeDefined();
      expect(JSON.stringify(entry)).toMatch(/User/);
    } finally {
      await h.db.$executeRawUnsafe('ALTER TABLE "UserGone" RENAME TO "User"');
      setErrorLogger(previous);
    }
  });
});
