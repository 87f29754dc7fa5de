// Walks every procedure of appRouter with every kind of caller and checks the answer:
// anonymous and expired credentials → UNAUTHORIZED; the wrong kind or too low a role →
// FORBIDDEN; otherwise the call is let through to validation. A new procedure that is not in
// ACCESS fails this test until someone decides who may call it.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newSecret } from "../auth/crypto";
import { appRouter } from "../root";
import { createHarness, type Harness } from "./harness";

type Level = "public" | "viewer" | "operator" | "admin" | "node";

const crud = (prefix: string, write: Level = "operator"): Record<string, Level> => ({
  [`${prefix}.list`]: "viewer",
  [`${prefix}.get`]: "viewer",
  [`${prefix}.create`]: write,
  [`${prefix}.update`]: write,
  [`${prefix}.delete`]: write,
});

const ACCESS: Record<string, Level> = {
  "auth.login": "public",
  "auth.logout": "public",
  "auth.me": "public",
  "users.list": "admin",
  "users.create": "admin",
  "users.update": "admin",
  "users.delete": "admin",
  "apiTokens.list": "admin",
  "apiTokens.create": "admin",
  "apiTokens.revoke": "admin",
  "joinTokens.list": "admin",
  "joinTokens.create": "admin",
  "joinTokens.revoke": "admin",
  ...crud("nodes", "admin"),
  "nodes.revokeCredential": "admin",
  "endpoints.list": "viewer",
  "endpoints.get": "viewer",
  "endpoints.upsert": "operator",
  "endpoints.delete": "operator",
  "identities.list": "viewer",
  ...crud("policies"),
  "policies.whatIf": "viewer",
  "policies.rollout": "viewer",
  ...crud("egress"),
  ...crud("bgp.instances"),
  ...crud("bgp.peers"),
  ...crud("bgp.advertisements"),
  "bgp.lookingGlass": "viewer",
  ...crud("srv6.locatorPools"),
  ...crud("srv6.vrfs"),
  ...crud("srv6.policies"),
  ...crud("services"),
  "cilium.import": "operator",
  "cilium.export": "viewer",
  "audit.list": "viewer",
  "flows.query": "viewer",
  "flows.export": "viewer",
  "flows.drops": "viewer",
  "flows.dropsByEndpoint": "viewer",
  "flows.explain": "viewer",
  "audit.get": "viewer",
  "audit.diff": "viewer",
  "audit.restore": "operator",
  "status.overview": "viewer",
  "status.live": "viewer",
  "dns.overview": "viewer",
  "egress.live": "viewer",
  "srv6.overview": "viewer",
  "health.overview": "viewer",
  "health.dns": "viewer",
  "agent.join": "public",
  "agent.desiredState": "node",
  "agent.heartbeat": "node",
  "agent.reportStatus": "node",
  "agent.reportDnsEvents": "node",
  "agent.reportFlows": "node",
  "agent.reportEndpoints": "node",
  "agent.reportBgpRoutes": "node",
  "agent.bgpPassword": "node",
};

type CallerKind = "anonymous" | "expired" | "viewer" | "operator" | "admin" | "node";
const CALLERS: CallerKind[] = ["anonymous", "expired", "viewer", "operator", "admin", "node"];
const RANK = { viewer: 1, operator: 2, admin: 3 } as const;

function expected(level: Level, who: CallerKind): "UNAUTHORIZED" | "FORBIDDEN" | "allowed" {
  if (level === "public") return "allowed";
  if (who === "anonymous" || who === "expired") return "UNAUTHORIZED";
  if (level === "node") return who === "node" ? "allowed" : "FORBIDDEN";
  if (who === "node") return "FORBIDDEN";
  return RANK[who] >= RANK[level] ? "allowed" : "FORBIDDEN";
}

/** The words a refused caller reads (trpc.ts), so a client can tell what to fix. */
function refusal(level: Level, who: CallerKind): string {
  if (who === "anonymous" || who === "expired") return "sign in or send a valid API token";
  if (level === "node") return "only a node credential may use the agent channel";
  if (who === "node") return "node credentials may only use the agent channel";
  return `this needs the ${level} role; you have ${who}`;
}

let h: Harness;
const secrets = {} as Record<CallerKind, string | null>;
const existing: Record<string, string> = {};

beforeAll(async () => {
  h = await createHarness();
  const admin = await h.as("admin");
  const { secret } = await admin.joinTokens.create({});
  const joined = await (await h.anon()).agent.join({ token: secret, nodeName: "matrix-node" });
  const expired = newSecret("tok");
  await h.db.apiToken.create({
    data: {
      name: "expired",
      role: "admin",
      tokenHash: expired.hash,
      prefix: expired.prefix,
      createdById: h.userIds.admin,
      expiresAt: new Date(Date.now() - 1000),
    },
  });
  Object.assign(secrets, { anonymous: null, expired: expired.secret, node: joined.credential, ...h.tokens });
  existing.nodes = joined.nodeId;
  existing.users = h.userIds.viewer;
  existing.policies = (
    await admin.policies.create({ namespace: "m", name: "p", spec: { endpointSelector: {} } })
  ).id;
});
afterAll(() => h.close());

const procedures = appRouter._def.procedures as unknown as Record<
  string,
  { _def: { type: "query" | "mutation" | "subscription" } }
>;

function call(caller: unknown, path: string, input: unknown): Promise<unknown> {
  const fn = path.split(".").reduce((o, k) => (o as Record<string, unknown>)[k], caller) as (
    i: unknown,
  ) => Promise<unknown>;
  return Promise.resolve().then(() => fn(input));
}

async function outcome(path: string, who: CallerKind, input: unknown) {
  const caller = await h.withToken(secrets[who]);
  try {
    const result = await call(caller, path, input);
    // Allowed subscriptions hand back a stream; close it without consuming.
    const it = (result as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator]?.();
    await it?.return?.();
    return { code: "OK", message: "" };
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { code: e.code ?? "UNKNOWN", message: e.message };
  }
}

describe("role matrix", () => {
  it("classifies every procedure of appRouter", () => {
    expect(Object.keys(procedures).sort()).toEqual(Object.keys(ACCESS).sort());
  });

  for (const path of Object.keys(ACCESS)) {
    it(`${path}: ${ACCESS[path]}`, async () => {
      const level = ACCESS[path]!;
      const prefix = path.slice(0, path.lastIndexOf("."));
      const id = existing[prefix];
      for (const who of CALLERS) {
        const want = expected(level, who);
        // An empty input: allowed callers reach validation (or succeed for reads), never an auth error.
        const got = await outcome(path, who, {});
        if (want === "allowed") {
          expect(["UNAUTHORIZED", "FORBIDDEN"], `${who} on ${path}: ${got.message}`).not.toContain(got.code);
          expect(got.code, `${who} on ${path}`).not.toBe("INTERNAL_SERVER_ERROR");
        } else {
          expect(got.code, `${who} on ${path}`).toBe(want);
          expect(got.message, `${who} on ${path}`).toBe(refusal(level, who));
          // "Exists" and "missing" must look the same to someone not allowed to ask.
          const a = await outcome(path, who, { id: id ?? randomUUID(), version: 1 });
          const b = await outcome(path, who, { id: randomUUID(), version: 1 });
          expect(a, `${who} on ${path}: existing vs missing`).toEqual(b);
          expect(a.code).toBe(want);
        }
      }
    });
  }
});
