// BGP configured through the real API, end to end: an operator creates a BGP instance, a peer
// with a TCP-MD5 password and an import policy, and a PodCIDR advertisement over tRPC; the node's
// real agent (in its namespace, joined to that API) fetches the key and peers with FRR 8.4 on the
// lab's router. What is asserted is what people see: FRR's RIB and neighbour state through vtysh,
// the session in the API's status (the data the console's BGP page shows), and the agent's
// looking glass. Needs root, FRR, the built native addon and PostgreSQL (`npm test`).
import { readFileSync } from "node:fs";
import path from "node:path";
import type { BgpPeerSpecInput } from "@meridian/model";
import { needs } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bgpSessions, type SessionReport } from "../../apps/web/src/lib/bgp-status";
import { buildLab, type Lab, teardownLab } from "./builder";
import { type ControlPlane, FRR_LAB_PARTS, startControlPlane, until } from "./control-plane-harness";
import { type Frr, startFrr } from "./frr";
import type { LabTopology } from "./topology";

const realParts = needs("BGP configured through the API, against FRR", FRR_LAB_PARTS);

const prefix = `mrdlabb${process.pid}-`;
const NODE = "bgp-n1";
const POD_CIDR = "10.244.31.0/24";
const TOR_AS = 65000;
const OUR_AS = 64512;
const topology: LabTopology = { nodes: [{ name: NODE, podCIDRs: [POD_CIDR] }], pods: [], router: true };

let cp: ControlPlane | undefined;
let lab: Lab | undefined;
let frr: Frr | undefined;
let peerId = "";

const router = () => lab!.router!;
const nodeIp = () => lab!.nodes.get(NODE)!.ipv4;

function vtysh(...cmds: string[]): Promise<string> {
  return frr!.vtysh(...cmds);
}

async function frrRoute(prefix: string): Promise<{ community?: { string: string } } | undefined> {
  const j = JSON.parse((await vtysh(`show bgp ipv4 unicast ${prefix} json`)) || "{}") as {
    paths?: { community?: { string: string } }[];
  };
  return j.paths?.[0];
}

/** FRR's view of our session: state and its own connection counters. */
async function frrNeighbor(): Promise<{ bgpState: string; connectionsEstablished: number }> {
  const j = JSON.parse((await vtysh(`show bgp neighbors ${nodeIp()} json`)) || "{}") as Record<
    string,
    { bgpState: string; connectionsEstablished: number }
  >;
  return j[nodeIp()] ?? { bgpState: "none", connectionsEstablished: 0 };
}

async function setFrrPassword(password: string): Promise<void> {
  await vtysh("configure terminal", `router bgp ${TOR_AS}`, `neighbor ${nodeIp()} password ${password}`);
}

/** The session as the console's BGP page shows it: the API's status overview, read over tRPC. */
async function consoleSession(): Promise<SessionReport | undefined> {
  const status = await cp!.client.status.overview.query();
  return bgpSessions(status.nodes).find((s) => s.node === NODE && s.peer === router().ipv4);
}

async function startRouterFrr(): Promise<void> {
  frr = await startFrr(
    router().netns,
    path.join(lab!.dir, "frr"),
    `frr defaults traditional
hostname mrd-tor
log file ${lab!.dir}/frr/bgpd.log
!
router bgp ${TOR_AS}
 bgp router-id ${router().ipv4}
 no bgp ebgp-requires-policy
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor ${nodeIp()} remote-as ${OUR_AS}
 neighbor ${nodeIp()} password md5-one
 neighbor ${nodeIp()} timers connect 2
 !
 address-family ipv4 unicast
  network 172.16.30.0/24
  network 192.0.2.0/24
  neighbor ${nodeIp()} activate
 exit-address-family
!
`,
  );
}

/** A failed wait says what the agent logged, which is usually why. */
function withAgentLog(err: Error): never {
  const log = lab ? readFileSync(lab.nodes.get(NODE)!.logFile, "utf8").slice(-4000) : "";
  throw new Error(`${err.message}\nagent log (tail):\n${log}`);
}

const peerSpec = (extra: Partial<BgpPeerSpecInput> = {}): BgpPeerSpecInput => ({
  instance: "dc",
  address: router().ipv4,
  peerASN: TOR_AS,
  holdTimeSeconds: 9,
  connectRetrySeconds: 2,
  families: ["ipv4-unicast"],
  // The ToR sends 172.16.30.0/24 and 192.0.2.0/24; only the DC's 172.16/12 is taken.
  importPolicy: { rules: [{ prefix: "172.16.0.0/12", le: 32, action: "accept" }] },
  ...extra,
});

async function updatePeer(extra: Partial<BgpPeerSpecInput>): Promise<void> {
  const current = await cp!.client.bgp.peers.get.query({ id: peerId });
  await cp!.client.bgp.peers.update.mutate({ id: peerId, version: current.version, spec: peerSpec(extra) });
}

async function receivedPrefixes(): Promise<string[]> {
  const routes = JSON.parse(await lab!.agentCli(NODE, ["bgp", "routes", "received", "tor", "--json"])) as {
    prefix: string;
  }[];
  return routes.map((r) => r.prefix).sort();
}

describe.skipIf(realParts.skip)("BGP configured through the API, against FRR", () => {
  beforeAll(async () => {
    cp = await startControlPlane();
    lab = await buildLab(topology, {
      prefix,
      controlPlane: { url: cp.api.url, joinToken: cp.joinToken },
      routesFromControlPlane: true,
    });
    await startRouterFrr();
  }, 180_000);

  afterAll(async () => {
    await lab?.teardown().catch(() => undefined);
    await teardownLab(prefix).catch(() => undefined);
    await cp?.close();
  }, 60_000);

  it("an operator's instance, MD5 peer and PodCIDR advertisement: Established, the PodCIDR in FRR, status in the API", async () => {
    const op = cp!.client;
    await op.bgp.instances.create.mutate({ name: "dc", spec: { nodeSelector: {}, localASN: OUR_AS } });
    const peer = await op.bgp.peers.create.mutate({ name: "tor", spec: peerSpec({ password: "md5-one" }) });
    peerId = peer.id;
    expect(peer.spec).toMatchObject({ hasPassword: true });
    expect(JSON.stringify(peer)).not.toContain("md5-one");
    await op.bgp.advertisements.create.mutate({
      name: "pods",
      spec: { type: "PodCIDR", communities: [`${OUR_AS}:100`] },
    });

    // FRR holds the session with its own key, and our PodCIDR with the advertisement's community.
    expect(await vtysh("show running-config")).toContain(`neighbor ${nodeIp()} password md5-one`);
    const route = await until("the PodCIDR in FRR's RIB", () => frrRoute(POD_CIDR), 60_000).catch(
      withAgentLog,
    );
    expect(route.community?.string).toBe(`${OUR_AS}:100`);
    expect((await frrNeighbor()).bgpState).toBe("Established");

    // The agent reports the session back; the console's BGP page reads it from the API.
    const session = await until("Established in the API's status", async () => {
      const s = await consoleSession();
      return s?.state === "established" && s.prefixesReceived === 2 ? s : undefined;
    }).catch(withAgentLog);
    expect(session).toMatchObject({ prefixesReceived: 2, prefixesAdvertised: 1 });
    const status = await op.status.overview.query();
    const bgp = status.nodes.find((n) => n.name === NODE)!.components.find((c) => c.component === "bgp")!;
    expect(bgp).toMatchObject({ state: "ok", message: "1/1 peers Established" });
  }, 120_000);

  it("the peer's import policy from the API decides what the looking glass shows", async () => {
    // 192.0.2.0/24 arrived but the policy rejected it: counted, not shown.
    expect(await receivedPrefixes()).toEqual(["172.16.30.0/24"]);
    const before = await frrNeighbor();
    await updatePeer({
      password: "md5-one",
      importPolicy: {
        rules: [
          { prefix: "172.16.0.0/12", le: 32, action: "accept" },
          { prefix: "192.0.2.0/24", action: "accept", localPreference: 50 },
        ],
      },
    });
    await until("192.0.2.0/24 in the looking glass", async () =>
      (await receivedPrefixes()).includes("192.0.2.0/24"),
    ).catch(withAgentLog);
    const routes = JSON.parse(await lab!.agentCli(NODE, ["bgp", "routes", "received", "tor", "--json"])) as {
      prefix: string;
      localPref?: number;
    }[];
    expect(routes.find((r) => r.prefix === "192.0.2.0/24")?.localPref).toBe(50);
    // A policy change asks the peer to resend (route refresh); the session stays up.
    const after = await frrNeighbor();
    expect(after.bgpState).toBe("Established");
    expect(after.connectionsEstablished).toBe(before.connectionsEstablished);
  }, 120_000);

  it("a password changed through the API (and on FRR) brings the session back with the new key", async () => {
    const before = await frrNeighbor();
    await updatePeer({ password: "md5-two" });
    await setFrrPassword("md5-two");
    await until("FRR re-established the session with the new key", async () => {
      const n = await frrNeighbor();
      return n.bgpState === "Established" && n.connectionsEstablished > before.connectionsEstablished;
    }).catch(withAgentLog);
    expect(await vtysh("show running-config")).toContain(`neighbor ${nodeIp()} password md5-two`);
    await until("the PodCIDR back in FRR", () => frrRoute(POD_CIDR));
    await until("Established again in the API's status", async () => {
      const s = await consoleSession();
      return s?.state === "established" ? s : undefined;
    });
  }, 120_000);

  it("a wrong password never establishes, and the API's status says why", async () => {
    const failuresBefore = await md5Failures();
    await updatePeer({ password: "md5-wrong" });
    const session = await until(
      "the unanswered connect in the API's status",
      async () => {
        const s = await consoleSession();
        return s && s.state !== "established" && s.lastError?.includes("No answer to TCP connect")
          ? s
          : undefined;
      },
      60_000,
    ).catch(withAgentLog);
    expect(session.lastError).toBe(
      "No answer to TCP connect (TCP-MD5 is set: a password that differs from the peer's looks like this)",
    );
    const status = await cp!.client.status.overview.query();
    const bgp = status.nodes.find((n) => n.name === NODE)!.components.find((c) => c.component === "bgp")!;
    expect(bgp.state).toBe("degraded");
    expect(bgp.message).toContain("down: tor (No answer to TCP connect");
    // FRR's kernel saw our signed SYNs and dropped them for their digest: the key really differs.
    expect((await frrNeighbor()).bgpState).not.toBe("Established");
    expect(await md5Failures()).toBeGreaterThan(failuresBefore);
    expect(await frrRoute(POD_CIDR)).toBeUndefined();
  }, 120_000);
});

async function md5Failures(): Promise<number> {
  const out = await lab!.exec(router().netns, ["nstat", "-az", "TcpExtTCPMD5Failure"]);
  return Number(/TcpExtTCPMD5Failure\s+(\d+)/.exec(out)?.[1] ?? 0);
}
