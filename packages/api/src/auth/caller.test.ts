// Caller resolution at its edges, as a client sees it: which Authorization headers and cookies
// carry a secret (caller.ts), sessions and API tokens on the exact second they expire, the
// once-a-minute lastUsedAt refresh, and the exact words of the 401 and 403 answers over HTTP.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type RunningServer, startServer } from "../server";
import { createHarness, errorOf, type Harness } from "../test/harness";
import { bearerOrCookie, resolveCaller } from "./caller";
import { newSecret } from "./crypto";

const SECRET = "mrd_tok_abcDEF123-_xyz";

function secretFrom(headers: Record<string, string>): string | null {
  return bearerOrCookie(new Headers(headers));
}

describe("the Authorization header", () => {
  it("accepts Bearer in any case, with any run of blanks before the secret", () => {
    for (const value of [
      `Bearer ${SECRET}`,
      `bearer ${SECRET}`,
      `BEARER ${SECRET}`,
      `bEaReR ${SECRET}`,
      `Bearer   ${SECRET}`,
      `Bearer\t${SECRET}`,
      // Headers drops leading and trailing blanks from a value, so these reach the pattern trimmed.
      `  Bearer ${SECRET}  `,
    ]) {
      expect(secretFrom({ authorization: value }), JSON.stringify(value)).toBe(SECRET);
    }
  });

  it("refuses other schemes, a missing secret, no blank, extra parts and a prefix before Bearer", () => {
    for (const value of [
      `Basic ${SECRET}`,
      "Bearer",
      "Bearer   ",
      `Bearer${SECRET}`,
      `Bearer ${SECRET} extra`,
      `Bearer ${SECRET}\tother`,
      `Bearer a ${SECRET}`,
      `XBearer ${SECRET}`,
      `Token Bearer ${SECRET}`,
      SECRET,
    ]) {
      expect(secretFrom({ authorization: value }), JSON.stringify(value)).toBeNull();
    }
  });

  it("a refused header falls back to the session cookie; an accepted one wins over it", () => {
    const cookie = "meridian_session=mrd_ses_fromcookie";
    expect(secretFrom({ authorization: `Bearer ${SECRET} extra`, cookie })).toBe("mrd_ses_fromcookie");
    expect(secretFrom({ authorization: "Basic dXNlcjpwYXNz", cookie })).toBe("mrd_ses_fromcookie");
    expect(secretFrom({ authorization: `Bearer ${SECRET}`, cookie })).toBe(SECRET);
  });
});

describe("the meridian_session cookie", () => {
  it("is found among several cookies, with blanks around name and value, and URL-decoded", () => {
    expect(secretFrom({ cookie: "meridian_session=abc" })).toBe("abc");
    expect(secretFrom({ cookie: "theme=dark; meridian_session=abc; lang=en" })).toBe("abc");
    expect(secretFrom({ cookie: "theme=dark;meridian_session=abc" })).toBe("abc");
    expect(secretFrom({ cookie: "a=1;   meridian_session  =  abc  ; b=2" })).toBe("abc");
    expect(secretFrom({ cookie: "meridian_session=a%2Bb%3D" })).toBe("a+b=");
    // Only the first "=" separates name and value.
    expect(secretFrom({ cookie: "meridian_session=a=b" })).toBe("a=b");
    // The first of two wins.
    expect(secretFrom({ cookie: "meridian_session=first; meridian_session=second" })).toBe("first");
  });

  it("a value with a malformed %-escape is no session (anonymous, not an error)", () => {
    expect(secretFrom({ cookie: "meridian_session=%E0" })).toBeNull();
    expect(secretFrom({ cookie: "meridian_session=abc%" })).toBeNull();
  });

  it("a quoted value is taken with its quotes (they are not unwrapped)", () => {
    expect(secretFrom({ cookie: 'meridian_session="abc"' })).toBe('"abc"');
  });

  it("is missing when no cookie has exactly that name", () => {
    expect(secretFrom({})).toBeNull();
    expect(secretFrom({ cookie: "" })).toBeNull();
    expect(secretFrom({ cookie: "theme=dark; lang=en" })).toBeNull();
    expect(secretFrom({ cookie: "xmeridian_session=abc; meridian_session_old=def" })).toBeNull();
    expect(secretFrom({ cookie: "MERIDIAN_SESSION=abc" })).toBeNull();
    expect(secretFrom({ cookie: "meridian_session" })).toBeNull();
    // A part without "=" is no cookie, even when all but its last character is the name.
    expect(secretFrom({ cookie: "meridian_session_; meridian_sessionX" })).toBeNull();
    expect(secretFrom({ cookie: "=meridian_session; other=meridian_session" })).toBeNull();
  });
});

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

const NOT_SIGNED_IN = { code: "UNAUTHORIZED", message: "sign in or send a valid API token" };

/** What a caller holding `secret` gets from auth.me and from a viewer procedure. */
async function asSeenBy(secret: string) {
  const caller = await h.withToken(secret);
  const me = await caller.auth.me();
  const list = await caller.policies.list({}).then(
    () => ({ code: "OK", message: "" }),
    (e: { code: string; message: string }) => ({ code: e.code, message: e.message }),
  );
  return { role: me?.role ?? null, list };
}

describe("credentials at the moment they expire (clock held still)", () => {
  const NOW = new Date("2026-06-01T12:00:00.000Z");
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(NOW);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function sessionExpiringAt(expiresAt: Date) {
    const s = newSecret("ses");
    await h.db.session.create({ data: { tokenHash: s.hash, userId: h.userIds.operator, expiresAt } });
    return s.secret;
  }

  async function tokenExpiringAt(expiresAt: Date) {
    const t = newSecret("tok");
    await h.db.apiToken.create({
      data: {
        name: `expires ${expiresAt.toISOString()}`,
        role: "operator",
        tokenHash: t.hash,
        prefix: t.prefix,
        createdById: h.userIds.operator,
        expiresAt,
      },
    });
    return t.secret;
  }

  it("a session expiring exactly now is refused; one expiring a millisecond later works", async () => {
    const now = await sessionExpiringAt(new Date(NOW.getTime()));
    expect(await asSeenBy(now)).toEqual({ role: null, list: NOT_SIGNED_IN });
    const later = await sessionExpiringAt(new Date(NOW.getTime() + 1));
    expect(await asSeenBy(later)).toEqual({ role: "operator", list: { code: "OK", message: "" } });
  });

  it("an API token expiring exactly now is refused; one expiring a millisecond later works", async () => {
    const now = await tokenExpiringAt(new Date(NOW.getTime()));
    expect(await asSeenBy(now)).toEqual({ role: null, list: NOT_SIGNED_IN });
    const later = await tokenExpiringAt(new Date(NOW.getTime() + 1));
    expect(await asSeenBy(later)).toEqual({ role: "operator", list: { code: "OK", message: "" } });
  });

  it("a token's lastUsedAt is set on first use and refreshed only once more than a minute has passed", async () => {
    const t = newSecret("tok");
    const { id } = await h.db.apiToken.create({
      data: {
        name: "usage",
        role: "viewer",
        tokenHash: t.hash,
        prefix: t.prefix,
        createdById: h.userIds.admin,
      },
    });
    const lastUsed = async () => (await h.db.apiToken.findUniqueOrThrow({ where: { id } })).lastUsedAt;
    const useAt = async (ms: number) => {
      vi.setSystemTime(NOW.getTime() + ms);
      const caller = await resolveCaller(h.db, new Headers({ authorization: `Bearer ${t.secret}` }));
      expect(caller.kind).toBe("token");
    };
    // The write is fire-and-forget; this long is plenty for one a test expects not to happen.
    const settle = () => new Promise((r) => setTimeout(r, 400));

    expect(await lastUsed()).toBeNull();
    await useAt(0);
    await vi.waitFor(async () => expect(await lastUsed()).toEqual(NOW));

    await useAt(30_000);
    await settle();
    expect(await lastUsed()).toEqual(NOW);

    await useAt(60_000);
    await settle();
    expect(await lastUsed()).toEqual(NOW);

    await useAt(60_001);
    await vi.waitFor(async () => expect((await lastUsed())?.getTime()).toBe(NOW.getTime() + 60_001));
  });
});

describe("401 and 403 as an API client reads them", () => {
  async function rest(method: string, path: string, secret: string | null, body?: unknown) {
    const r = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: {
        ...(secret ? { authorization: `Bearer ${secret}` } : {}),
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await r.json()) as { code?: string; message?: string };
    return { status: r.status, code: json.code, message: json.message };
  }

  async function trpcMutation(path: string, secret: string, input: unknown) {
    const r = await fetch(`${server.url}/api/trpc/${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: JSON.stringify(input),
    });
    // The tRPC wire format: superjson wraps the error shape in `json`.
    const json = (await r.json()) as {
      error?: { json: { message: string; data: { code: string; httpStatus: number } } };
    };
    const error = json.error?.json;
    return { status: r.status, code: error?.data.code, message: error?.message };
  }

  it("no credential, an unknown one and a malformed header: 401 asking to sign in", async () => {
    const want = { status: 401, code: "UNAUTHORIZED", message: NOT_SIGNED_IN.message };
    expect(await rest("GET", "/network-policies", null)).toEqual(want);
    expect(await rest("GET", "/network-policies", newSecret("tok").secret)).toEqual(want);
    expect(await rest("GET", "/network-policies", newSecret("ses").secret)).toEqual(want);
    expect(await rest("GET", "/network-policies", "not-a-meridian-secret")).toEqual(want);
  });

  it("too low a role: 403 naming the role needed and the one held", async () => {
    const body = { namespace: "msg", name: "p", spec: { endpointSelector: {} } };
    expect(await rest("POST", "/network-policies", h.tokens.viewer, body)).toEqual({
      status: 403,
      code: "FORBIDDEN",
      message: "this needs the operator role; you have viewer",
    });
    expect(await rest("GET", "/users", h.tokens.operator)).toEqual({
      status: 403,
      code: "FORBIDDEN",
      message: "this needs the admin role; you have operator",
    });
  });

  it("a node credential off the agent channel and a person on it: 403 saying who may", async () => {
    const { secret } = await (await h.as("admin")).joinTokens.create({});
    const { credential } = await (await h.anon()).agent.join({ token: secret, nodeName: "msg-node" });
    expect(await rest("GET", "/network-policies", credential)).toEqual({
      status: 403,
      code: "FORBIDDEN",
      message: "node credentials may only use the agent channel",
    });
    expect(await trpcMutation("agent.heartbeat", h.tokens.admin, {})).toEqual({
      status: 403,
      code: "FORBIDDEN",
      message: "only a node credential may use the agent channel",
    });
  });

  it("through the caller the same words arrive, for an expired session too", async () => {
    const s = newSecret("ses");
    await h.db.session.create({
      data: { tokenHash: s.hash, userId: h.userIds.admin, expiresAt: new Date(Date.now() - 1000) },
    });
    const expired = await errorOf(async () => (await h.withToken(s.secret)).users.list({}));
    expect({ code: expired.code, message: expired.message }).toEqual(NOT_SIGNED_IN);
    const low = await errorOf(async () => (await h.as("viewer")).apiTokens.list({}));
    expect({ code: low.code, message: low.message }).toEqual({
      code: "FORBIDDEN",
      message: "this needs the admin role; you have viewer",
    });
  });
});
