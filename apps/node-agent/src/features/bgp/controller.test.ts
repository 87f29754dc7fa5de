import { type Driver, Lab, sh, startFrr } from "@meridian/bgp/testing";
import type { BgpPeerState, BgpRouteState } from "@meridian/model";
import { needs, parts } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../testing/wait.js";
import type { LookingGlassRoute } from "./controller.js";
import {
  type ControllerProcessOptions,
  startControllerIn,
  stopControllerAndLab,
} from "./controller-process.js";
import type { DesiredBgp } from "./plan.js";
import type { BgpStatus } from "./status.js";

const realParts = needs("BgpController with FRR", [parts.root, parts.frr, parts.nativeAddon]);

const lab = new Lab("agent", 7);
const AS = 65001;
let us: Driver | undefined;

interface Intent {
  localASN?: number;
  vips?: string[];
  vipCommunity?: string;
  holdTime?: number;
  password?: string;
  /** What the API derives from the stored ciphertext; a new one means the password was set again. */
  passwordVersion?: string;
}

/** The desired state the compiler would emit for one node, one ToR peer (iBGP, so LOCAL_PREF travels). */
function desired(i: Intent = {}): { bgp: DesiredBgp; passwords: Record<string, string> } {
  const route = (prefix: string, advertisement: string, extra: Partial<BgpRouteState>): BgpRouteState => ({
    prefix,
    advertisement,
    communities: [],
    largeCommunities: [],
    ...extra,
  });
  const peer: BgpPeerState = {
    name: "tor-a",
    address: lab.v4(2),
    peerASN: AS,
    port: 179,
    holdTimeSeconds: i.holdTime ?? 9,
    keepaliveSeconds: Math.floor((i.holdTime ?? 9) / 3),
    connectRetrySeconds: 2,
    gracefulRestart: { enabled: true, restartTimeSeconds: 60 },
    families: ["ipv4-unicast", "ipv6-unicast"],
    hasPassword: i.password !== undefined,
    ...(i.password !== undefined
      ? { passwordRef: "ref-tor-a", passwordVersion: i.passwordVersion ?? "v1" }
      : {}),
    // The ToR's routes are filtered by import policy: only the DC's 172.16/12 reaches the looking glass.
    importPolicy: { rules: [{ prefix: "172.16.0.0/12", le: 32, action: "accept" }], default: "reject" },
    routes: [
      route("10.244.7.0/24", "pods", {
        communities: ["65001:100"],
        largeCommunities: ["65001:1:1"],
        localPreference: 150,
      }),
      route("fd00:244:7::/64", "pods", { communities: ["65001:100"] }),
      ...(i.vips ?? ["10.96.0.10/32", "10.96.0.11/32"]).map((p) =>
        route(p, "services", { communities: [i.vipCommunity ?? "65001:200"], localPreference: 200 }),
      ),
    ],
  };
  return {
    bgp: { instances: [{ name: "dc", localASN: i.localASN ?? AS, routerID: lab.v4(1), peers: [peer] }] },
    passwords: i.password !== undefined ? { "ref-tor-a": i.password } : {},
  };
}

const context = () => ({ nodeAddresses: [`${lab.v4(1)}/24`, `${lab.v6(1)}/64`] });

const startController = (opts: ControllerProcessOptions = {}) => startControllerIn(lab, opts);

async function apply(i: Intent = {}): Promise<void> {
  const { bgp, passwords } = desired(i);
  await us!.call("apply", { bgp, context: context(), passwords });
}

const status = async () => (await us!.call<BgpStatus>("status")).peers[0]!;

function vtysh(cmd: string): string {
  return sh("vtysh", ["--vty_socket", lab.dir, "-c", cmd], { ns: lab.theirs });
}

function configure(lines: string[]): void {
  sh("vtysh", ["--vty_socket", lab.dir, "-c", "configure terminal", ...lines.flatMap((l) => ["-c", l])], {
    ns: lab.theirs,
  });
}

interface FrrPath {
  locPrf?: number;
  stale?: boolean;
  community?: { string: string };
  largeCommunity?: { string: string };
  nexthops?: { ip: string }[];
}

function frrPath(prefix: string): FrrPath | undefined {
  const afi = prefix.includes(":") ? "ipv6" : "ipv4";
  const j = JSON.parse(vtysh(`show bgp ${afi} unicast ${prefix} json`) || "{}") as { paths?: FrrPath[] };
  return j.paths?.[0];
}

/** FRR's own counters for our session: what the router operator sees as flaps. */
function frrNeighbor(): { bgpState: string; connectionsEstablished: number; connectionsDropped: number } {
  const j = JSON.parse(vtysh(`show bgp neighbors ${lab.v4(1)} json`) || "{}") as Record<string, never>;
  return j[lab.v4(1)]!;
}

const established = (what: string) =>
  waitFor(
    what,
    async () => (await status()).state === "Established" && frrNeighbor().bgpState === "Established",
    30_000,
  );

describe.skipIf(realParts.skip)("BgpController with FRR", () => {
  beforeAll(async () => {
    lab.up();
    await startFrr(
      lab,
      `frr defaults traditional
hostname frr-agent-lab
log file ${lab.dir}/bgpd.log
!
router bgp ${AS}
 bgp router-id ${lab.v4(2)}
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor ${lab.v4(1)} remote-as ${AS}
 neighbor ${lab.v4(1)} timers connect 2
 !
 address-family ipv4 unicast
  network 172.16.10.0/24
  network 192.0.2.0/24
  neighbor ${lab.v4(1)} activate
 exit-address-family
 !
 address-family ipv6 unicast
  neighbor ${lab.v4(1)} activate
 exit-address-family
!
`,
    );
    us = await startController();
  }, 60_000);

  afterAll(() => stopControllerAndLab(us, lab));

  it("advertises PodCIDRs and Service VIPs with their communities and local preference", async () => {
    await apply();
    await established("session Established on both sides");
    const pods = await waitFor("PodCIDR in FRR", () => frrPath("10.244.7.0/24"));
    expect(pods).toMatchObject({
      locPrf: 150,
      community: { string: "65001:100" },
      largeCommunity: { string: "65001:1:1" },
    });
    expect(pods.nexthops?.[0]?.ip).toBe(lab.v4(1));
    const vip = await waitFor("VIP in FRR", () => frrPath("10.96.0.11/32"));
    expect(vip).toMatchObject({ locPrf: 200, community: { string: "65001:200" } });
    // The IPv6 PodCIDR rides the IPv4 session with our IPv6 address as next hop, not a mapped one.
    const v6 = await waitFor("IPv6 PodCIDR in FRR", () => frrPath("fd00:244:7::/64"));
    expect(v6.nexthops?.[0]?.ip).toBe(lab.v6(1));
  });

  it("reports Established with per-family counts and keeps only what import policy accepts", async () => {
    // FRR sends 172.16.10.0/24 and 192.0.2.0/24; the import policy accepts only the first.
    const st = await waitFor("both FRR routes received", async () => {
      const s = await status();
      return s.prefixes["ipv4-unicast"]?.received === 2 ? s : undefined;
    });
    expect(st.prefixes["ipv4-unicast"]).toEqual({ received: 2, accepted: 1, advertised: 3 });
    expect(st.prefixes["ipv6-unicast"]).toEqual({ received: 0, accepted: 0, advertised: 1 });
    expect(st.negotiated).toMatchObject({ holdTimeSeconds: 9, gracefulRestart: true, routeRefresh: true });
    const received = await us!.call<LookingGlassRoute[]>("received", {
      peer: "tor-a",
      family: "ipv4-unicast",
    });
    expect(received.map((r) => r.prefix)).toEqual(["172.16.10.0/24"]);
    expect(received[0]).toMatchObject({ nextHops: [lab.v4(2)], localPref: 100 });
    const text = await us!.call<string>("peers-text");
    expect(text).toMatch(/tor-a\s+10\.99\.7\.2\s+65001\s+Established/);
    expect(text).toContain("ipv4-unicast 1/2/3");
    const routes = await us!.call<string>("routes-text", { peer: "tor-a", family: "ipv4-unicast" });
    expect(routes).toMatch(/10\.96\.0\.10\/32\s+10\.99\.7\.1\s+200\s+.*65001:200/);
    const component = await us!.call<{ state: string; message: string }>("component");
    expect(component).toMatchObject({ state: "ok", message: "1/1 peers Established" });
  });

  it("applies the same state twice and an advertisement change without a session flap", async () => {
    const before = frrNeighbor();
    const ours = await status();
    await apply(); // the same state: nothing to do
    await apply({ vips: ["10.96.0.10/32", "10.96.0.11/32", "10.96.0.12/32"], vipCommunity: "65001:201" });
    await waitFor("new VIP in FRR", () => frrPath("10.96.0.12/32"));
    await waitFor(
      "VIP community updated in FRR",
      () => frrPath("10.96.0.10/32")?.community?.string === "65001:201",
    );
    const after = frrNeighbor();
    expect(after.bgpState).toBe("Established");
    expect(after.connectionsEstablished).toBe(before.connectionsEstablished);
    expect(after.connectionsDropped).toBe(before.connectionsDropped);
    const now = await status();
    expect(now.flaps).toBe(ours.flaps);
    expect(now.uptimeSeconds).toBeGreaterThanOrEqual(ours.uptimeSeconds);
  });

  it("withdraws a removed VIP and routes a plug-in source takes back", async () => {
    await apply({ vips: ["10.96.0.10/32", "10.96.0.12/32"], vipCommunity: "65001:201" });
    await waitFor("removed VIP withdrawn from FRR", () => !frrPath("10.96.0.11/32"));
    expect(frrPath("10.96.0.12/32")).toBeDefined();
    // The mechanism egress-gateway and SRv6 will use: routes by source, replaced as a whole.
    await us!.call("set-routes", {
      source: "egress-gateway",
      routes: [{ prefix: "192.168.50.7/32", communities: ["65001:300"], origin: "egress policy web" }],
    });
    const egress = await waitFor("egress IP in FRR", () => frrPath("192.168.50.7/32"));
    expect(egress.community?.string).toBe("65001:300");
    await us!.call("set-routes", { source: "egress-gateway", routes: [] });
    await waitFor("egress IP withdrawn from FRR", () => !frrPath("192.168.50.7/32"));
    expect(frrNeighbor().connectionsDropped).toBe(0);
  });

  it("a password or hold-time change resets the session, which comes back", async () => {
    const dropped = frrNeighbor().connectionsDropped;
    const flaps = (await status()).flaps;
    configure([`router bgp ${AS}`, `neighbor ${lab.v4(1)} password s3cret-1`]);
    await apply({
      vips: ["10.96.0.10/32", "10.96.0.12/32"],
      vipCommunity: "65001:201",
      password: "s3cret-1",
    });
    await waitFor("FRR sees the session drop", () => frrNeighbor().connectionsDropped > dropped);
    await established("session back with TCP-MD5");
    const md5 = await status();
    expect(md5.configured.md5).toBe(true);
    expect(md5.flaps).toBeGreaterThan(flaps);
    await apply({
      vips: ["10.96.0.10/32", "10.96.0.12/32"],
      vipCommunity: "65001:201",
      password: "s3cret-1",
      holdTime: 15,
    });
    const st = await waitFor(
      "session back with hold time 15",
      async () => {
        const s = await status();
        return s.state === "Established" && s.negotiated?.holdTimeSeconds === 15 ? s : undefined;
      },
      30_000,
    );
    expect(st.flaps).toBeGreaterThan(md5.flaps);
    // The routes come back with the session.
    await waitFor("VIP back in FRR", () => frrPath("10.96.0.12/32"));
  });

  it("fetches the key once per password version; a new version brings the new key and one reset", async () => {
    const intent = { vips: ["10.96.0.10/32", "10.96.0.12/32"], vipCommunity: "65001:201", holdTime: 15 };
    await us!.call("fetches");
    await apply({ ...intent, password: "s3cret-1" });
    await apply({ ...intent, password: "s3cret-1" });
    expect(await us!.call<string[]>("fetches")).toEqual([]);
    const dropped = frrNeighbor().connectionsDropped;
    const flaps = (await status()).flaps;
    configure([`router bgp ${AS}`, `neighbor ${lab.v4(1)} password s3cret-2`]);
    await apply({ ...intent, password: "s3cret-2", passwordVersion: "v2" });
    expect(await us!.call<string[]>("fetches")).toEqual(["ref-tor-a"]);
    await waitFor("FRR sees the session drop", () => frrNeighbor().connectionsDropped > dropped);
    await established("session back with the new key");
    expect((await status()).flaps).toBeGreaterThan(flaps);
    // Back to the first key under a third version, for the tests that follow.
    configure([`router bgp ${AS}`, `neighbor ${lab.v4(1)} password s3cret-1`]);
    await apply({ ...intent, password: "s3cret-1", passwordVersion: "v3" });
    await established("session back with the first key");
  });

  it("a wrong local ASN shows FRR's NOTIFICATION in words, and fixing it brings the session back", async () => {
    const wrong = {
      vips: ["10.96.0.10/32", "10.96.0.12/32"],
      vipCommunity: "65001:201",
      password: "s3cret-1",
      holdTime: 15,
    };
    await apply({ ...wrong, localASN: 65002 });
    const st = await waitFor(
      "NOTIFICATION from FRR",
      async () => {
        const s = await status();
        return s.lastError?.direction === "received" ? s : undefined;
      },
      30_000,
    );
    expect(st.lastError?.words).toMatch(/^received: OPEN Message Error \/ Bad Peer AS/);
    expect(st.state).not.toBe("Established");
    expect(await us!.call<string>("peers-text")).toContain(
      "last error received: OPEN Message Error / Bad Peer AS",
    );
    const component = await us!.call<{ state: string; message: string }>("component");
    expect(component.state).toBe("degraded");
    expect(component.message).toContain("Bad Peer AS");
    await apply(wrong);
    await established("session back with the right ASN");
  });

  it("graceful restart: FRR keeps our routes stale while the agent restarts, then they come back fresh", async () => {
    const intent = {
      vips: ["10.96.0.10/32", "10.96.0.12/32"],
      vipCommunity: "65001:201",
      password: "s3cret-1",
      holdTime: 15,
    };
    await waitFor(
      "PodCIDR fresh before restart",
      () => frrPath("10.244.7.0/24") && !frrPath("10.244.7.0/24")!.stale,
    );
    await us!.call("stop", { graceful: true });
    await waitFor("controller process exits", () => us!.child.exitCode !== null, 10_000);
    // No NOTIFICATION went out, so FRR (helper) keeps our routes, marked stale, instead of dropping them.
    await waitFor("FRR marks our PodCIDR stale", () => frrPath("10.244.7.0/24")?.stale === true);
    expect(frrPath("10.96.0.12/32")?.stale).toBe(true);
    us = await startController({ restarting: true });
    // The new agent no longer advertises 10.96.0.12: after our End-of-RIB FRR must purge it.
    await apply({ ...intent, vips: ["10.96.0.10/32"] });
    await established("session back after restart");
    await waitFor(
      "PodCIDR fresh again",
      () => frrPath("10.244.7.0/24") && !frrPath("10.244.7.0/24")!.stale,
      30_000,
    );
    expect(frrPath("10.244.7.0/24")).toMatchObject({ locPrf: 150, community: { string: "65001:100" } });
    await waitFor("stale VIP purged after End-of-RIB", () => !frrPath("10.96.0.12/32"));
  });
});
