// Every tRPC procedure and every REST route, driven over real HTTP with hostile values made from
// its own input schema: a valid input for the procedure with one field — chosen from the schema's
// leaves, lists and records — replaced by something it must refuse (over-long or control-character
// text, lone surrogates, prototype keys, out-of-range and non-integer numbers, wrong types, deep
// nesting, too many items). Each call must answer a 4xx within seconds, a 400 must name the field,
// and nothing may be written (objects, revisions, audit entries). fast-check picks the fields and
// values and shrinks any failure to the smallest one.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter } from "../root";
import { seedDatabase } from "../seed";
import { type RunningServer, startServer } from "../server";
import { createHarness, type Harness } from "./harness";
import { type Leaf, procedureInput, walkSchema } from "./schema-walk";

type Json = unknown;
type Procedure = {
  _def: {
    type: "query" | "mutation" | "subscription";
    meta?: { openapi?: { method: string; path: string } };
  };
};
const procedures = appRouter._def.procedures as unknown as Record<string, Procedure>;

let h: Harness;
let api: RunningServer;
let nodeCredential: string;
const fx = {} as Record<string, { id: string; version: number; name?: string }>;

/** Runs per procedure; the whole suite sends about procedures × RUNS hostile inputs. */
const RUNS = Number(process.env.MERIDIAN_HOSTILE_RUNS ?? 40);
let sent = 0;

beforeAll(async () => {
  h = await createHarness();
  api = await startServer({ db: h.db, changeFeed: h.feed });
  await seedDatabase(h.db, { adminEmail: "seed-admin@test.local" });
  const admin = await h.as("admin");
  const one = async <T extends { items: { id: string; version: number; name?: string }[] }>(p: Promise<T>) =>
    (await p).items[0]!;
  fx.policy = await one(admin.policies.list({}));
  fx.instance = await one(admin.bgp.instances.list({}));
  fx.peer = await one(admin.bgp.peers.list({}));
  fx.pool = await one(admin.srv6.locatorPools.list({}));
  fx.vrf = await one(admin.srv6.vrfs.list({}));
  const node = await admin.nodes.create({
    name: "hostile-node",
    labels: { "meridian.io/bgp": "enabled" },
    podCIDRs: ["10.88.0.0/24"],
  });
  fx.node = node;
  const jt = await admin.joinTokens.create({ nodeName: "hostile-node" });
  nodeCredential = (await (await h.anon()).agent.join({ token: jt.secret, nodeName: "hostile-node" }))
    .credential;
  fx.joinToken = { id: (await admin.joinTokens.create({})).joinToken.id, version: 1 };
  fx.egress = await admin.egress.create({
    name: "hostile-egress",
    spec: {
      selectors: [{ podSelector: {} }],
      destinationCIDRs: ["192.0.2.0/24"],
      gateways: [{ nodeName: "hostile-node" }],
    },
  });
  fx.advertisement = await admin.bgp.advertisements.create({ name: "hostile-ad", spec: { type: "PodCIDR" } });
  fx.srv6Policy = await admin.srv6.policies.create({
    name: "hostile-srv6",
    spec: { vrf: fx.vrf.name!, destination: "10.9.0.0/16", segments: ["fd00:5::1"] },
  });
  fx.service = await admin.services.create({
    namespace: "shop",
    name: "hostile-svc",
    spec: { type: "ClusterIP" },
  });
  fx.endpoint = await admin.endpoints.upsert({
    node: "hostile-node",
    namespace: "shop",
    name: "pod-0",
    ipv4: "10.88.0.5",
  });
  fx.user = { id: h.userIds.viewer, version: 1 };
  fx.apiToken = {
    id: (await admin.apiTokens.create({ name: "hostile", role: "viewer" })).token.id,
    version: 1,
  };
  fx.revision = { id: "", version: (await admin.audit.list({})).current };
}, 60_000);

afterAll(async () => {
  console.log(
    `hostile-input suite: ${sent} hostile inputs sent over HTTP, none answered 500 or left a write`,
  );
  await api?.close();
  await h?.close();
});

const policySpec = {
  endpointSelector: {
    matchLabels: { app: "x" },
    matchExpressions: [{ key: "tier", operator: "In", values: ["a"] }],
  },
  ingress: [
    {
      fromEndpoints: [{ matchLabels: { app: "y" } }],
      fromCIDRSet: [{ cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] }],
      toPorts: [{ ports: [{ port: "80", endPort: 90, protocol: "TCP" }] }],
    },
  ],
  egress: [
    { toFQDNs: [{ matchName: "a.example" }], toPorts: [{ ports: [{ port: "443", protocol: "TCP" }] }] },
    {
      toEndpoints: [{}],
      toPorts: [
        { ports: [{ port: "53", protocol: "ANY" }], rules: { dns: [{ matchPattern: "*.example" }] } },
      ],
    },
  ],
};
const egressSpec = {
  selectors: [{ podSelector: { matchLabels: { app: "x" } }, namespaceSelector: {}, nodeSelector: {} }],
  destinationCIDRs: ["198.51.100.0/24"],
  excludedCIDRs: ["198.51.100.0/28"],
  gateways: [{ nodeName: "hostile-node" }],
  ha: { healthCheckIntervalMs: 1000, healthCheckTimeoutMs: 3000, maxActiveGateways: 1 },
};
const peerSpec = {
  instance: "tor",
  address: "192.168.100.50",
  peerASN: 65050,
  port: 179,
  holdTimeSeconds: 90,
  keepaliveSeconds: 30,
  connectRetrySeconds: 120,
  ebgpMultihop: 2,
  families: ["ipv4-unicast"],
  password: "pw",
  importPolicy: {
    rules: [
      {
        prefix: "10.0.0.0/8",
        ge: 16,
        le: 24,
        communities: ["65000:1"],
        families: ["ipv4-unicast"],
        action: "accept",
        localPreference: 100,
      },
    ],
  },
};
const adSpec = {
  type: "PodCIDR",
  communities: ["65000:1"],
  largeCommunities: ["65000:1:1"],
  localPreference: 100,
  peers: ["tor-router"],
  peerSelector: {},
};

/** A valid input for each procedure (before one field is made hostile); `{}` where that is one. */
function baseInput(path: string): Json {
  const crud = (kind: string, create: Json, update: Json = { description: "edit" }) => {
    const f = fx[kind]!;
    return {
      get: { id: f.id },
      list: { limit: 10, offset: 0, search: "a" },
      create,
      update: { id: f.id, version: f.version, ...(update as object) },
      delete: { id: f.id, version: f.version + 1000 },
    };
  };
  const table: Record<string, Json> = {
    "auth.login": { email: "admin@test.local", password: "wrong password here" },
    "users.create": {
      email: "new@test.local",
      name: "New",
      role: "viewer",
      password: "a long enough password",
    },
    "users.update": { id: fx.user!.id, version: 1000, name: "Renamed" },
    "users.delete": { id: fx.user!.id, version: 1000 },
    "users.list": { search: "a", limit: 10, offset: 0 },
    "apiTokens.create": { name: "t", role: "viewer", expiresAt: new Date(Date.now() + 86_400_000) },
    "apiTokens.revoke": { id: fx.apiToken!.id },
    "apiTokens.list": { includeRevoked: true, limit: 10, offset: 0 },
    "joinTokens.create": { description: "d", nodeName: "n-9", ttlSeconds: 3600 },
    "joinTokens.revoke": { id: fx.joinToken!.id },
    "joinTokens.list": { includeUsed: true, limit: 10, offset: 0 },
    "nodes.create": {
      name: "n-new",
      labels: { rack: "r1" },
      addresses: ["192.0.2.77/24"],
      podCIDRs: ["10.89.0.0/24"],
    },
    "nodes.update": {
      id: fx.node!.id,
      version: 1000,
      labels: { rack: "r2" },
      addresses: ["192.0.2.78"],
      podCIDRs: ["10.88.0.0/24"],
    },
    "nodes.delete": { id: fx.node!.id, version: 1000 },
    "nodes.get": { id: fx.node!.id },
    "nodes.list": { search: "n", joinState: "joined", limit: 10, offset: 0 },
    "nodes.revokeCredential": { id: "00000000-0000-4000-8000-000000000000" },
    "endpoints.list": {
      node: "hostile-node",
      namespace: "shop",
      identity: 300,
      search: "pod",
      limit: 10,
      offset: 0,
    },
    "endpoints.get": { id: fx.endpoint!.id },
    "endpoints.upsert": {
      node: "hostile-node",
      namespace: "shop",
      name: "pod-1",
      labels: { app: "x" },
      ipv4: "10.88.0.6",
      ipv6: "fd00::6",
      version: 1,
    },
    "endpoints.delete": { id: fx.endpoint!.id, version: 1000 },
    "identities.list": { label: "app=x", limit: 10, offset: 0 },
    "policies.rollout": { id: fx.policy!.id },
    "policies.whatIf": {
      source: { namespace: "shop", name: "pod-0" },
      destination: { ip: "10.88.0.5" },
      protocol: "TCP",
      port: 80,
    },
    "bgp.lookingGlass": {
      node: "hostile-node",
      peer: "tor-router",
      family: "ipv4-unicast",
      direction: "received",
      prefix: "10.0.0.0/8",
      cursor: 0,
      limit: 10,
    },
    "cilium.import": {
      yaml: "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: p\n  namespace: shop\nspec:\n  endpointSelector: {}\n",
      dryRun: true,
      skipConflicts: false,
      message: "m",
    },
    "cilium.export": { kinds: ["NetworkPolicy"], namespace: "shop" },
    "flows.query": { from: new Date(0), to: new Date(), verdict: "dropped", ruleId: "r", limit: 5 },
    "flows.export": { from: new Date(0), to: new Date(), policy: "p", limit: 5 },
    "flows.drops": { minutes: 15, node: "n", endpoint: "shop/web-1" },
    "flows.dropsByEndpoint": { minutes: 15, endpoints: ["shop/web-1"] },
    "flows.explain": { id: "1" },
    "audit.list": { entityType: "NetworkPolicy", entityId: fx.policy!.id, author: "a", limit: 10, offset: 0 },
    "audit.get": { number: 1 },
    "audit.diff": { from: 1, to: 2 },
    "audit.restore": { number: 1_000_000, message: "m" },
    "status.overview": {},
    "status.live": {},
    "egress.live": {},
    "health.overview": {},
    "health.dns": { node: "n" },
    "agent.join": {
      token: "mrd_join_not-a-real-token",
      nodeName: "n-join",
      addresses: ["192.0.2.90/24"],
      podCIDRs: ["10.90.0.0/24"],
      agentVersion: "1",
    },
    "agent.desiredState": {
      lastRevision: 1,
      lastContentHash: "abc",
      lastEventId: "1",
      nodeName: "hostile-node",
    },
    "agent.heartbeat": { nodeName: "hostile-node", appliedRevision: 1, agentVersion: "1" },
    "agent.reportStatus": {
      nodeName: "hostile-node",
      appliedRevision: 1,
      contentHash: "abc",
      agentVersion: "1",
      components: [{ component: "cni", state: "ok", message: "m", detail: { podCIDRs: ["10.88.0.0/24"] } }],
      summary: { a: 1 },
    },
    "agent.reportDnsEvents": {
      events: [
        {
          at: new Date(),
          endpoint: "shop/pod-0",
          sourceIP: "10.88.0.5",
          qname: "a.example",
          qtype: "A",
          rcode: "NOERROR",
          answers: ["192.0.2.1"],
          ttlSeconds: 30,
          verdict: "allowed",
          rule: "r",
        },
      ],
    },
    "agent.reportFlows": {
      flows: [
        {
          at: new Date(),
          source: "a",
          destination: "b",
          protocol: "TCP",
          port: 80,
          verdict: "forwarded",
          reason: "r",
          packets: 1,
          bytes: 1,
        },
      ],
    },
    "agent.reportEndpoints": {
      endpoints: [
        { namespace: "shop", name: "pod-0", labels: { app: "x" }, ipv4: "10.88.0.5", ipv6: "fd00::5" },
      ],
    },
    "agent.reportBgpRoutes": { nodeName: "hostile-node", peers: [], configuredPeers: ["tor-router"] },
    "agent.bgpPassword": { ref: fx.peer!.id },
  };
  const kinds: Record<string, ReturnType<typeof crud>> = {
    policies: crud(
      "policy",
      { namespace: "shop", name: "p-new", description: "d", message: "m", spec: policySpec },
      { spec: policySpec },
    ),
    egress: crud("egress", { name: "e-new", spec: egressSpec }, { spec: egressSpec }),
    "bgp.instances": crud("instance", {
      name: "i-new",
      spec: { nodeSelector: { matchLabels: { a: "b" } }, localASN: 64513, routerID: "192.0.2.1" },
    }),
    "bgp.peers": crud("peer", { name: "peer-new", spec: peerSpec }, { spec: peerSpec }),
    "bgp.advertisements": crud("advertisement", { name: "ad-new", spec: adSpec }, { spec: adSpec }),
    "srv6.locatorPools": crud("pool", {
      name: "pool-new",
      spec: {
        prefix: "fd00:9::/48",
        locatorLength: 64,
        structure: { locatorBlockLength: 48, locatorNodeLength: 16, functionLength: 16, argumentLength: 0 },
      },
    }),
    "srv6.vrfs": crud("vrf", {
      name: "vrf-new",
      spec: {
        vrfID: 200,
        locatorPool: "default",
        routeDistinguisher: "64512:200",
        importRouteTargets: ["64512:200"],
        exportRouteTargets: ["64512:200"],
        memberSelector: {},
      },
    }),
    "srv6.policies": crud("srv6Policy", {
      name: "sp-new",
      spec: { vrf: "blue", destination: "10.8.0.0/16", segments: ["fd00:5::2"] },
    }),
    services: crud("service", {
      namespace: "shop",
      name: "s-new",
      spec: {
        type: "LoadBalancer",
        labels: { app: "x" },
        clusterIPs: ["10.96.0.10"],
        loadBalancerIPs: ["192.0.2.200"],
        externalIPs: [],
      },
    }),
  };
  if (path in table) return table[path];
  const at = path.lastIndexOf(".");
  const kind = kinds[path.slice(0, at)];
  const op = path.slice(at + 1) as keyof ReturnType<typeof crud>;
  return kind?.[op] ?? {};
}

// ---- hostile values ---------------------------------------------------------------------------

const controlChars = fc.constantFrom(
  "\u0000",
  "\u0001",
  "\u0008",
  "\u000b",
  "\u001f",
  "\u007f",
  "\u0085",
  "\u009b",
);

function hostileText(leaf: Leaf | null): fc.Arbitrary<Json> {
  const max = leaf?.maxLength ?? 65_536;
  const bad = [
    fc
      .tuple(fc.string({ maxLength: 8 }), controlChars, fc.string({ maxLength: 8 }))
      .map(([a, c, b]) => `${a}${c}${b}`),
    fc.constantFrom("\uD800", "a\uDC00b"),
    fc.constantFrom(max + 1, 70_000, 1_000_000).map((n) => "x".repeat(n)),
  ];
  // In a union another branch may take another type (a port is a number or a string).
  if (leaf?.inUnion) return fc.oneof(...bad);
  return fc.oneof(...bad, fc.constantFrom<Json>(12, true, [], ["x"], { a: 1 }, null));
}

function hostileNumber(leaf: Leaf): fc.Arbitrary<Json> {
  const above = leaf.max === null ? 1e20 : leaf.max + 1;
  const below = leaf.min === null ? -1e20 : leaf.min - 1;
  return fc.oneof(
    fc.constantFrom<Json>(above, below, 1e20, -1e20, 2 ** 53 + 2, -(2 ** 53 + 2)),
    fc.constantFrom<Json>(...(leaf.integer ? [0.5, (leaf.min ?? 0) + 0.25] : [Number.NaN])),
    // Wrong types; a numeric string is right for a coerced (query-string) number, so not that. In
    // a union a string may be the other branch's (a port is a number or a name: "abc" is a port
    // name), so there only the types no branch takes.
    leaf.inUnion
      ? fc.constantFrom<Json>(true, [], { n: 1 }, null)
      : fc.constantFrom<Json>("abc", "1e400", true, [], { n: 1 }, null, ""),
  );
}

/** Something `leaf` must refuse. */
function hostileFor(leaf: Leaf): fc.Arbitrary<Json> {
  switch (leaf.kind) {
    case "string":
      return hostileText(leaf);
    case "number":
      return hostileNumber(leaf);
    case "boolean":
      return fc.constantFrom<Json>(leaf.coerced ? "maybe" : "true", 1, [], { a: 1 }, "\u0000");
    case "enum":
      // A coerced enum is a query-string boolean ("true"/"false"), for which `true` is right.
      return fc.oneof(
        fc.constantFrom<Json>("not-a-value", 7, [], null),
        hostileText(leaf.coerced ? { ...leaf, inUnion: true } : null),
      );
    case "date":
      return fc.constantFrom<Json>("not a date", [], { a: 1 }, "\u0000");
    default:
      // Free-form values: only what the guard refuses for every field.
      return fc.oneof(
        fc.tuple(fc.string({ maxLength: 8 }), controlChars).map(([a, c]) => `${a}${c}`),
        fc.constant("x".repeat(70_000)),
        fc.constant(JSON.parse('{"__proto__":{"polluted":true}}')),
      );
  }
}

const deepNesting = fc.integer({ min: 40, max: 200 }).map((depth) => {
  let v: Json = "x";
  for (let i = 0; i < depth; i++) v = [v];
  return v;
});

interface Target {
  /** Where the hostile value goes; `[]` becomes item 0, `{}` a key of our choosing. */
  path: string[];
  value: fc.Arbitrary<Json>;
  /** A record's hostile key (its value is then fine). */
  key?: boolean;
  leaf?: Leaf;
}

function targetsFor(path: string): Target[] {
  const schema = procedureInput(procedures[path]!);
  if (!schema) return [];
  const { leaves, containers } = walkSchema(schema);
  const out: Target[] = leaves.map((leaf) => ({
    path: leaf.path,
    leaf,
    value: fc.oneof(hostileFor(leaf), deepNesting),
  }));
  for (const c of containers) {
    if (c.kind === "record") {
      out.push({
        path: [...c.path, "{}"],
        key: true,
        value: fc.constantFrom("__proto__", "constructor", "prototype", "a\u0000b", "k".repeat(100_000)),
      });
    } else {
      const n = (c.maxItems ?? 10_000) + 1;
      out.push({ path: c.path, value: fc.constant(Array.from({ length: n }, () => null)) });
    }
  }
  return out;
}

/** `base` with `value` at `path` (creating what is missing); a `{}` step takes `key` as the key. */
function place(base: Json, path: string[], value: Json, key?: string): Json {
  const root = structuredClone(base ?? {}) as Record<string, Json>;
  if (path.length === 0) return value;
  let cur: Record<string, Json> | Json[] = root;
  for (let i = 0; i < path.length; i++) {
    const last = i === path.length - 1;
    const step = path[i]!;
    const k: string | number = step === "[]" ? 0 : step === "{}" ? (key ?? "k") : step;
    const next = path[i + 1];
    if (last) {
      if (step === "{}" && key !== undefined)
        Object.defineProperty(cur, k, { value: "v", enumerable: true, writable: true, configurable: true });
      else (cur as Record<string | number, Json>)[k] = value;
      break;
    }
    let child = (cur as Record<string | number, Json>)[k];
    if (typeof child !== "object" || child === null) {
      child = next === "[]" ? [] : {};
      (cur as Record<string | number, Json>)[k] = child;
    }
    cur = child as Record<string, Json>;
  }
  return root;
}

// ---- calling ----------------------------------------------------------------------------------

interface Answer {
  status: number;
  message: string;
  fieldErrors: Record<string, string[]> | null;
  ms: number;
}

function authFor(path: string) {
  return { authorization: `Bearer ${path.startsWith("agent.") ? nodeCredential : h.tokens.admin}` };
}

/** JSON text that keeps an own `__proto__` key (JSON.stringify does; object spread would not). */
function body(input: Json) {
  return JSON.stringify({ json: input });
}

async function viaTrpc(path: string, input: Json): Promise<Answer> {
  const type = procedures[path]!._def.type;
  const t0 = Date.now();
  const signal = AbortSignal.timeout(15_000);
  const res =
    type === "mutation"
      ? await fetch(`${api.url}/api/trpc/${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", ...authFor(path) },
          body: body(input),
          signal,
        })
      : await fetch(`${api.url}/api/trpc/${path}?input=${encodeURIComponent(body(input))}`, {
          headers: { ...authFor(path), ...(type === "subscription" ? { accept: "text/event-stream" } : {}) },
          signal,
        });
  if (type === "subscription" && res.status === 200) {
    // A subscription reports a bad input as its first SSE event, then ends.
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("serialized-error") && text.length < 100_000) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    const line = text.split("\n").find((l) => l.startsWith("data:") && l.includes("code"));
    const err = line
      ? (
          JSON.parse(line.slice(5)) as {
            json?: {
              data?: { httpStatus?: number; fieldErrors?: Record<string, string[]> };
              message?: string;
            };
          }
        ).json
      : undefined;
    return {
      status: err?.data?.httpStatus ?? 200,
      message: err?.message ?? text.slice(0, 200),
      fieldErrors: err?.data?.fieldErrors ?? null,
      ms: Date.now() - t0,
    };
  }
  const json = (await res.json().catch(() => null)) as {
    error?: { json?: { message: string; data?: { fieldErrors?: Record<string, string[]> | null } } };
  } | null;
  return {
    status: res.status,
    message: json?.error?.json?.message ?? "",
    fieldErrors: json?.error?.json?.data?.fieldErrors ?? null,
    ms: Date.now() - t0,
  };
}

async function viaRest(path: string, input: Json): Promise<Answer | null> {
  const route = procedures[path]!._def.meta?.openapi;
  if (!route) return null;
  const t0 = Date.now();
  const values = { ...(input as Record<string, Json>) };
  const url = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = values[name];
    delete values[name];
    return encodeURIComponent(typeof v === "string" ? v : JSON.stringify(v));
  });
  const withBody = hasBody(route.method);
  let query = "";
  if (!withBody) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) q.append(k, typeof x === "string" ? x : JSON.stringify(x));
      else q.set(k, typeof v === "string" ? v : JSON.stringify(v));
    }
    query = q.size ? `?${q}` : "";
  }
  const res = await fetch(`${api.url}/api/v1${url}${query}`, {
    method: route.method,
    headers: { ...(withBody ? { "content-type": "application/json" } : {}), ...authFor(path) },
    ...(withBody ? { body: JSON.stringify(values) } : {}),
    signal: AbortSignal.timeout(15_000),
  });
  const json = (await res.json().catch(() => null)) as {
    message?: string;
    data?: { fieldErrors?: Record<string, string[]> | null };
  } | null;
  return {
    status: res.status,
    message: json?.message ?? "",
    fieldErrors: json?.data?.fieldErrors ?? null,
    ms: Date.now() - t0,
  };
}

const hasBody = (method: string) => method === "POST" || method === "PUT" || method === "PATCH";

/**
 * A query string carries text only, and well-formed text at that (a lone surrogate is sent as
 * U+FFFD): other hostile values go to the tRPC route, where JSON carries them as they are.
 */
function fitsQueryString(value: Json, leaf: Leaf | undefined): boolean {
  // A number sent for a text field arrives as text, which is fine text: only a number field's
  // out-of-range numbers mean the same in a query string.
  if (typeof value === "number") return leaf?.kind === "number";
  return typeof value === "string" && !/[\uD800-\uDFFF]/.test(value);
}

/** Row counts of everything a write could leave behind: objects, revisions, audit, reports. */
async function footprint(): Promise<Record<string, number>> {
  const counts = {
    revisions: h.db.revision.count(),
    audit: h.db.auditEntry.count(),
    policies: h.db.networkPolicy.count(),
    egress: h.db.egressGatewayPolicy.count(),
    peers: h.db.bgpPeer.count(),
    nodes: h.db.node.count(),
    endpoints: h.db.endpoint.count(),
    users: h.db.user.count(),
    tokens: h.db.apiToken.count(),
    joinTokens: h.db.joinToken.count(),
    dns: h.db.dnsEvent.count(),
    flows: h.db.flowSummary.count(),
    status: h.db.nodeComponentStatus.count(),
  };
  const values = await Promise.all(Object.values(counts));
  return Object.fromEntries(Object.keys(counts).map((k, i) => [k, values[i]!]));
}

/** A field error names the field: some key lies on the hostile value's path (or under it). */
function namesField(answer: Answer, path: string[]): boolean {
  const keys = Object.keys(answer.fieldErrors ?? {});
  if (keys.length === 0) return false;
  const concrete = path.map((p) => (p === "[]" ? "0" : p));
  const head = concrete
    .filter((p) => p !== "{}")
    .slice(0, 1)
    .join(".");
  return keys.some((k) => k === "_" || k.startsWith(head) || head === "");
}

// ---- the suite --------------------------------------------------------------------------------

describe("hostile inputs", () => {
  it("every base input is itself valid, so a refusal is the hostile field's doing", () => {
    const invalid: string[] = [];
    for (const path of Object.keys(procedures)) {
      const schema = procedureInput(procedures[path]!);
      if (!schema) continue;
      const r = schema.safeParse(baseInput(path));
      if (!r.success)
        invalid.push(`${path}: ${r.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
    }
    expect(invalid).toEqual([]);
  });

  for (const path of Object.keys(procedures).sort()) {
    it(`${path}: refused with a 4xx naming the field, nothing written`, async () => {
      const targets = targetsFor(path);
      if (targets.length === 0) return;
      const before = await footprint();
      const route = procedures[path]!._def.meta?.openapi;
      await fc.assert(
        fc.asyncProperty(
          fc
            .integer({ min: 0, max: targets.length - 1 })
            .chain((i) => fc.record({ i: fc.constant(i), value: targets[i]!.value, rest: fc.boolean() })),
          async ({ i, value, rest }) => {
            const target = targets[i]!;
            const input = target.key
              ? place(baseInput(path), target.path, null, value as string)
              : place(baseInput(path), target.path, value);
            const inPath = route?.path.includes(`{${target.path[0]}}`) ?? false;
            const useRest =
              rest &&
              route !== undefined &&
              // An empty path segment would be another route (GET /revisions/ is the list).
              !(inPath && value === "") &&
              ((hasBody(route.method) && !inPath) || fitsQueryString(value, target.leaf));
            const answer = useRest
              ? ((await viaRest(path, input)) ?? (await viaTrpc(path, input)))
              : await viaTrpc(path, input);
            sent += 1;
            const what = `${useRest ? "REST" : "tRPC"} ${path} at ${target.path.join(".") || "(input)"}: ${answer.status} ${answer.message.slice(0, 200)}`;
            expect(answer.status, what).not.toBe(500);
            expect(answer.status, what).toBeGreaterThanOrEqual(400);
            expect(answer.status, what).toBeLessThan(500);
            expect(answer.ms, what).toBeLessThan(10_000);
            if (answer.status === 400)
              expect(
                namesField(answer, target.path),
                `${what} ${JSON.stringify(answer.fieldErrors).slice(0, 300)}`,
              ).toBe(true);
          },
        ),
        { numRuns: RUNS, endOnFailure: true },
      );
      expect(await footprint()).toEqual(before);
    }, 120_000);
  }
});
