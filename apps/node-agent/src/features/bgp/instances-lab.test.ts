// Two BGP instances on one node against real daemons in a network namespace: "fabric" (AS 65001)
// towards an FRR ToR, "upstream" (AS 65100) towards a GoBGP route server that only dials in, so
// its session can only come up through the controller's shared :179 listener. Then the agent
// restarts gracefully and defers selection (RFC 4724 §4.1) while FRR still holds our routes stale.
// Needs root, FRR, GoBGP and the built native addon; every assertion reads the daemons themselves.
import fs from "node:fs";
import path from "node:path";
import { type Driver, Lab, sh, startFrr } from "@meridian/bgp/testing";
import type { BgpInstanceState, BgpPeerState, BgpRouteState } from "@meridian/model";
import { needs, parts } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../testing/wait.js";
import type { LookingGlassRoute } from "./controller.js";
import {
  type ControllerProcessOptions,
  startControllerIn,
  stopControllerAndLab,
} from "./controller-process.js";
import type { BgpStatus } from "./status.js";

const realParts = needs("two BGP instances on one node, FRR and GoBGP", [
  parts.root,
  parts.frr,
  parts.gobgp,
  parts.nativeAddon,
]);

const lab = new Lab("agentmulti", 10);
const FRR_AS = 65010;
const GOBGP_AS = 65200;
let us: Driver | undefined;

const route = (prefix: string, advertisement: string, communities: string[] = []): BgpRouteState => ({
  prefix,
  advertisement,
  communities,
  largeCommunities: [],
});

function peer(
  name: string,
  address: string,
  asn: number,
  port: number,
  routes: BgpRouteState[],
): BgpPeerState {
  return {
    name,
    address,
    peerASN: asn,
    port,
    holdTimeSeconds: 9,
    keepaliveSeconds: 3,
    connectRetrySeconds: 2,
    gracefulRestart: { enabled: true, restartTimeSeconds: 60 },
    families: ["ipv4-unicast"],
    hasPassword: false,
    routes,
  };
}

const fabric = (vips = ["10.96.0.10/32", "10.96.0.11/32"], extra: BgpPeerState[] = []): BgpInstanceState => ({
  name: "fabric",
  localASN: 65001,
  routerID: lab.v4(1),
  peers: [
    peer("tor-a", lab.v4(2), FRR_AS, 179, [
      route("10.244.10.0/24", "pods", ["65001:100"]),
      ...vips.map((v) => route(v, "services", ["65001:200"])),
    ]),
    ...extra,
  ],
});

// GoBGP does not listen (port -1): our own dial goes to a closed port, GoBGP's comes in.
const upstream = (gracefulRestart = true): BgpInstanceState => ({
  name: "upstream",
  localASN: 65100,
  routerID: lab.v4(1),
  peers: [
    {
      ...peer("rs-a", lab.v4(4), GOBGP_AS, 1179, [route("192.0.2.10/32", "public-vip", ["65100:300"])]),
      ...(gracefulRestart ? {} : { gracefulRestart: { enabled: false, restartTimeSeconds: 60 } }),
    },
  ],
});

const context = () => ({ nodeAddresses: [`${lab.v4(1)}/24`] });

const startController = (opts: ControllerProcessOptions = {}) => startControllerIn(lab, opts);

const apply = (instances: BgpInstanceState[]) =>
  us!.call("apply", { bgp: { instances }, context: context(), passwords: {} });
const status = () => us!.call<BgpStatus>("status");
const row = async (name: string) => (await status()).peers.find((p) => p.name === name);

function vtysh(cmd: string): string {
  return sh("vtysh", ["--vty_socket", lab.dir, "-c", cmd], { ns: lab.theirs });
}

interface FrrPath {
  stale?: boolean;
  aspath?: { string: string };
}
function frrPath(prefix: string): FrrPath | undefined {
  const j = JSON.parse(vtysh(`show bgp ipv4 unicast ${prefix} json`) || "{}") as { paths?: FrrPath[] };
  return j.paths?.[0];
}
function frrNeighbor(): {
  bgpState: string;
  connectionsEstablished: number;
  connectionsDropped: number;
  gracefulRestartInfo?: { ipv4Unicast?: { endOfRibStatus?: { endOfRibRecv?: boolean } } };
} {
  const j = JSON.parse(vtysh(`show bgp neighbors ${lab.v4(1)} json`) || "{}") as Record<string, never>;
  return j[lab.v4(1)]!;
}

function gobgp(args: string[]): string {
  return sh("gobgp", ["-u", "127.0.0.1", "-p", "50051", ...args], { ns: lab.theirs });
}
function gobgpState(): string {
  const nb = JSON.parse(gobgp(["-j", "neighbor", lab.v4(1)]) || "null") as {
    state?: { session_state?: number | string };
  } | null;
  return String(nb?.state?.session_state ?? "");
}
function gobgpPrefixes(): string[] {
  const rib = JSON.parse(gobgp(["-j", "global", "rib", "-a", "ipv4"]) || "null") as Record<
    string,
    { attrs: { type: number; as_paths?: { asns: number[] }[] }[] }[]
  > | null;
  return Object.keys(rib ?? {}).sort();
}
const gobgpUp = () => /^(6|established)$/i.test(gobgpState());

describe.skipIf(realParts.skip)("two BGP instances on one node, FRR and GoBGP", () => {
  beforeAll(async () => {
    lab.up();
    await startFrr(
      lab,
      `frr defaults traditional
hostname frr-multi-lab
log file ${lab.dir}/bgpd.log
!
router bgp ${FRR_AS}
 bgp router-id ${lab.v4(2)}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor ${lab.v4(1)} remote-as 65001
 neighbor ${lab.v4(1)} timers connect 2
 !
 address-family ipv4 unicast
  network 172.16.10.0/24
 exit-address-family
!
`,
    );
    fs.writeFileSync(
      path.join(lab.dir, "gobgpd.toml"),
      `[global.config]
  as = ${GOBGP_AS}
  router-id = "${lab.v4(4)}"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${lab.v4(1)}"
    peer-as = 65100
  [neighbors.timers.config]
    connect-retry = 2
    hold-time = 9
    keepalive-interval = 3
    idle-hold-time-after-reset = 1
  [neighbors.transport.config]
    local-address = "${lab.v4(4)}"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`,
    );
    lab.spawnDaemon("gobgpd", [
      "-f",
      path.join(lab.dir, "gobgpd.toml"),
      "-p",
      "--api-hosts",
      "127.0.0.1:50051",
    ]);
    await waitFor("gobgpd API", () => gobgp(["global"]).includes(String(GOBGP_AS)));
    gobgp(["global", "rib", "add", "-a", "ipv4", "198.51.100.0/24"]);
    us = await startController();
  }, 60_000);

  afterAll(() => stopControllerAndLab(us, lab));

  it("both instances Established through one listener, each with its own ASN and routes", async () => {
    await apply([fabric(), upstream()]);
    await waitFor("fabric session", async () => (await row("tor-a"))?.state === "Established", 30_000);
    await waitFor(
      "upstream session",
      async () => (await row("rs-a"))?.state === "Established" && gobgpUp(),
      30_000,
    );
    const st = await status();
    expect(st.instances.map((i) => [i.name, i.localASN])).toEqual([
      ["fabric", 65001],
      ["upstream", 65100],
    ]);
    // FRR's RIB: the fabric's routes with AS 65001, not the upstream's VIP.
    await waitFor("PodCIDR in FRR", () => frrPath("10.244.10.0/24"));
    expect(frrPath("10.244.10.0/24")?.aspath?.string).toBe("65001");
    // GoBGP's: the upstream's VIP and its own route, not the fabric's.
    await waitFor("VIP in GoBGP", () => gobgpPrefixes().includes("192.0.2.10/32"));
    expect(gobgpPrefixes()).toEqual(["192.0.2.10/32", "198.51.100.0/24"]);
    expect(frrPath("192.0.2.10/32")).toBeUndefined();
    // Received routes stay in their instance.
    const fromFrr = await waitFor("FRR's route in fabric", async () =>
      (await us!.call<LookingGlassRoute[]>("received", { peer: "tor-a" })).map((r) => r.prefix),
    );
    expect(fromFrr).toEqual(["172.16.10.0/24"]);
    const fromGo = await waitFor("GoBGP's route in upstream", async () => {
      const r = await us!.call<LookingGlassRoute[]>("received", { peer: "upstream/rs-a" });
      return r.length ? r.map((x) => x.prefix) : undefined;
    });
    expect(fromGo).toEqual(["198.51.100.0/24"]);
    const text = await us!.call<string>("peers-text");
    expect(text).toMatch(/fabric\s+tor-a\s+10\.99\.10\.2\s+65010\s+Established/);
    expect(text).toMatch(/upstream\s+rs-a\s+10\.99\.10\.4\s+65200\s+Established/);
  });

  it("removing and re-adding the upstream instance leaves FRR's session untouched", async () => {
    const before = frrNeighbor();
    await apply([fabric()]);
    await waitFor("GoBGP session down", () => !gobgpUp());
    await apply([fabric(), upstream()]);
    await waitFor("GoBGP session back", () => gobgpUp(), 30_000);
    await waitFor("VIP back in GoBGP", () => gobgpPrefixes().includes("192.0.2.10/32"));
    const after = frrNeighbor();
    expect(after.bgpState).toBe("Established");
    expect(after.connectionsEstablished).toBe(before.connectionsEstablished);
    expect(after.connectionsDropped).toBe(before.connectionsDropped);
  });

  it("after a graceful restart, waits for End-of-RIB (or the deferral timer) before FRR gets our routes back", async () => {
    await waitFor("VIP fresh in FRR", () => frrPath("10.96.0.11/32") && !frrPath("10.96.0.11/32")!.stale);
    await us!.call("stop", { graceful: true });
    await waitFor("controller exits", () => us!.child.exitCode !== null, 10_000);
    await waitFor("FRR keeps our PodCIDR as stale", () => frrPath("10.244.10.0/24")?.stale === true);
    const dropped = frrNeighbor().connectionsDropped;
    us = await startController({ restarting: true, selectionDeferralSeconds: 8 });
    // The fabric also has a second ToR that never answers: its End-of-RIB cannot come, so only
    // the deferral timer ends the wait. 10.96.0.11 is no longer advertised.
    await apply([fabric(["10.96.0.10/32"], [peer("tor-b", lab.v4(6), FRR_AS, 1179, [])]), upstream(false)]);
    const t0 = Date.now();
    await waitFor("FRR session back", () => frrNeighbor().bgpState === "Established", 30_000);
    await waitFor(
      "FRR's route in",
      async () => (await row("tor-a"))?.prefixes["ipv4-unicast"]?.received === 1,
    );
    const st = await status();
    const fab = st.instances.find((i) => i.name === "fabric")!;
    // FRR's End-of-RIB is in; the silent ToR's is not.
    expect(fab.gracefulRestart).toMatchObject({
      deferring: true,
      waiting: [{ family: "ipv4-unicast", peers: [lab.v4(6)] }],
    });
    // FRR has the session but neither our routes nor our End-of-RIB: ours stay stale there.
    expect(frrPath("10.244.10.0/24")?.stale).toBe(true);
    expect(frrPath("10.96.0.11/32")?.stale).toBe(true);
    expect(frrNeighbor().gracefulRestartInfo?.ipv4Unicast?.endOfRibStatus?.endOfRibRecv).toBe(false);
    // The upstream instance has no graceful-restart peer to wait for: its selection runs at once,
    // not at the fabric's timer, and GoBGP gets the VIP whenever it dials in.
    const up = await waitFor(
      "upstream selection done",
      async () => {
        const gr = (await status()).instances.find((i) => i.name === "upstream")!.gracefulRestart;
        return gr?.deferring === false ? gr : undefined;
      },
      30_000,
    );
    expect(up.completed?.reason).toBe("end-of-rib");
    await waitFor("VIP in GoBGP", () => gobgpPrefixes().includes("192.0.2.10/32"));
    // The deferral timer ends the wait: selection, our routes, then our End-of-RIB.
    await waitFor(
      "our End-of-RIB at FRR",
      () => frrNeighbor().gracefulRestartInfo?.ipv4Unicast?.endOfRibStatus?.endOfRibRecv === true,
      20_000,
    );
    expect(Date.now() - t0).toBeGreaterThan(2_000);
    await waitFor(
      "PodCIDR fresh in FRR",
      () => frrPath("10.244.10.0/24") && !frrPath("10.244.10.0/24")!.stale,
    );
    await waitFor("withdrawn VIP purged at our End-of-RIB", () => !frrPath("10.96.0.11/32"));
    expect((await status()).instances.find((i) => i.name === "fabric")!.gracefulRestart).toMatchObject({
      deferring: false,
      completed: { reason: "timer" },
    });
    expect(frrNeighbor().connectionsDropped).toBe(dropped);
  });
});
