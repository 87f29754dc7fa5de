// FQDN policy for the `npm start` demo: a real DNS server (Debian's dnsmasq) in the lab's DNS
// namespace answering a few `.lab` names with short TTLs, a web server on ext1 behind them, and a
// policy on the shop's client pods, created through the API as an operator would, that lets them
// resolve and reach ext1.lab (and *.ext1.lab) only. A newcomer then sees, from client-1, an
// allowed name answered and its address connected, a denied name REFUSED by the node's DNS proxy
// (never forwarded), and learned addresses expiring with their TTL. Idempotent: a second run
// reuses the policy; dnsmasq and the web server live in the lab's namespaces, so `lab down` ends them.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { MeridianClient } from "@meridian/api/client";
import { labDir, run } from "./builder";
import { dig } from "./dig";
import { FABRIC, type LabTopology } from "./topology";

export const DNSMASQ = "/usr/sbin/dnsmasq";

export const DEMO_DNS = {
  server: FABRIC.v4(FABRIC.dnsHost),
  /** Short, so the console shows learned addresses expiring and coming back. */
  ttlSeconds: 30,
  /** ext1's own fabric address answers ext1.lab; blocked.lab is a second address on ext1. */
  blockedAddress: FABRIC.v4(210),
  policy: { namespace: "shop", name: "demo-fqdn" },
  selector: { app: "client" },
  allowed: ["ext1.lab", "www.ext1.lab"],
  denied: ["blocked.lab"],
  httpPort: 80,
} as const;

/** The policy: DNS to the lab server for ext1.lab names only, HTTP to their answers, the shop's web pods. */
export function demoFqdnPolicy() {
  const names = [{ matchName: "ext1.lab" }, { matchPattern: "*.ext1.lab" }];
  return {
    endpointSelector: { matchLabels: { ...DEMO_DNS.selector } },
    egress: [
      {
        toCIDR: [`${DEMO_DNS.server}/32`],
        toPorts: [
          { ports: [{ port: "53", protocol: "ANY" as const }], rules: { dns: names.map((n) => ({ ...n })) } },
        ],
      },
      {
        toFQDNs: names.map((n) => ({ ...n })),
        toPorts: [{ ports: [{ port: String(DEMO_DNS.httpPort), protocol: "TCP" as const }] }],
      },
      // The client keeps reaching the shop's web pods: the policy narrows egress to names, not more.
      { toEndpoints: [{ matchLabels: { app: "web" } }] },
    ],
  };
}

// A plain HTTP server answering "ext1 <client address>" (curl-able from a pod).
const HTTP_SERVER = `
const http = require("node:http");
http.createServer((req, res) => {
  res.setHeader("content-type", "text/plain");
  res.end("ext1 " + req.socket.remoteAddress.replace(/^::ffff:/, "") + "\\n");
}).listen({ port: Number(process.argv[1]), host: "::", ipv6Only: false });
`;

/**
 * ext1's web server, which answers with the address it saw (the DNS and egress demos show it). A
 * second start finds the port taken and exits, so each demo may start it.
 */
export function startExt1WebServer(prefix: string): void {
  spawnInNetns(`${prefix}ext1`, [process.execPath, "-e", HTTP_SERVER, String(DEMO_DNS.httpPort)]);
}

/** A process inside a lab namespace that outlives the caller (npm start's demo-lab step exits). */
function spawnInNetns(netns: string, argv: string[]): void {
  const child = spawn("ip", ["netns", "exec", netns, ...argv], { stdio: "ignore", detached: true });
  child.unref();
}

async function waitFor(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} within ${ms / 1000} s`);
}

/**
 * Starts dnsmasq and ext1's web server in the lab and creates the demo FQDN policy through
 * `client` (an admin). Returns what it did, or why it did nothing.
 */
export async function startDemoDns(opts: {
  prefix: string;
  topology: LabTopology;
  client: MeridianClient;
}): Promise<string> {
  if (!opts.topology.dnsServer) return "DNS demo skipped: the lab has no DNS namespace";
  if (!opts.topology.externals?.includes("ext1")) return "DNS demo skipped: the lab has no ext1";
  if (!existsSync(DNSMASQ)) return "DNS demo skipped: dnsmasq is not installed (apt-get install dnsmasq)";
  const dnsNs = `${opts.prefix}dns`;
  const extNs = `${opts.prefix}ext1`;
  const ext1 = FABRIC.v4(FABRIC.externalHost(0));
  const dir = path.join(labDir(opts.prefix), "dnsmasq");
  mkdirSync(dir, { recursive: true });

  await run("ip", ["-n", extNs, "addr", "replace", `${DEMO_DNS.blockedAddress}/32`, "dev", "lo"]);
  startExt1WebServer(opts.prefix);
  const ttl = DEMO_DNS.ttlSeconds;
  spawnInNetns(dnsNs, [
    DNSMASQ,
    "--keep-in-foreground",
    "--no-resolv",
    "--no-hosts",
    "--bind-interfaces",
    `--listen-address=${DEMO_DNS.server}`,
    `--pid-file=${path.join(dir, "dnsmasq.pid")}`,
    "--log-queries",
    `--log-facility=${path.join(dir, "dnsmasq.log")}`,
    `--host-record=ext1.lab,${ext1},${ttl}`,
    `--host-record=www.ext1.lab,${ext1},${ttl}`,
    `--host-record=blocked.lab,${DEMO_DNS.blockedAddress},${ttl}`,
  ]);
  // dnsmasq answers the lab's DNS namespace itself once it listens.
  await waitFor(
    "dnsmasq did not answer in the lab's DNS namespace",
    async () =>
      (
        await run("ip", [
          "netns",
          "exec",
          dnsNs,
          "dig",
          `@${DEMO_DNS.server}`,
          "ext1.lab",
          "+short",
          "+time=1",
          "+tries=1",
        ])
      ).trim() === ext1,
    10_000,
  );

  const { client } = opts;
  const { namespace, name } = DEMO_DNS.policy;
  const existing = (await client.policies.list.query({ search: name })).items.some(
    (p) => p.name === name && p.namespace === namespace,
  );
  if (!existing) {
    await client.policies.create.mutate({
      namespace,
      name,
      description: "demo: the shop's client may resolve and reach ext1.lab only (DNS page)",
      spec: demoFqdnPolicy(),
    });
  }
  return `DNS demo: dnsmasq on ${DEMO_DNS.server} answers ${[...DEMO_DNS.allowed, ...DEMO_DNS.denied].join(", ")} (TTL ${ttl} s); policy ${namespace}/${name} lets app=client pods resolve and reach ext1.lab, other names are REFUSED; see DNS in the console`;
}

// What a newcomer types in a pod (the demo's tests use them too).

/** `dig @server name` inside a pod: status and A records. */
export async function digFrom(netns: string, name: string): Promise<{ status: string; addresses: string[] }> {
  const r = await dig(netns, { server: DEMO_DNS.server, name });
  return { status: r.status, addresses: r.addresses };
}

/** curl inside a pod; the body, or the error. One try, no retries beyond the kernel's. */
export async function curlFrom(netns: string, ip: string, timeoutS = 2): Promise<string> {
  return await run("ip", [
    "netns",
    "exec",
    netns,
    "curl",
    "-sS",
    "-m",
    String(timeoutS),
    `http://${ip}/`,
  ]).then(
    (s) => s.trim(),
    (e: Error) => `failed: ${e.message}`,
  );
}
