// Received BGP routes in the kernel: FRR 8.4 in one network namespace advertises prefixes that live
// behind it (addresses on its loopback), the controller runs in another (test-driver.ts). Every
// assertion reads the kernel of the agent's namespace (`ip route`, `ip route get`, ping), as an
// operator on the node would. Needs root, FRR and the built native addon.
import { EventEmitter } from "node:events";
import fs from "node:fs";
import path from "node:path";
import type { BestPathChange } from "@meridian/bgp";
import { type Driver, Lab, sh, startFrr } from "@meridian/bgp/testing";
import type { BgpPeerState } from "@meridian/model";
import { needs, parts } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Scratch } from "../../testing/netns.js";
import { waitFor } from "../../testing/wait.js";
import type { LookingGlassRoute } from "./controller.js";
import {
  type ControllerProcessOptions,
  startControllerIn,
  stopControllerAndLab,
} from "./controller-process.js";
import { BGP_ROUTE_METRIC, KernelRouteInstaller, type RouteSource } from "./kernel-routes.js";
import type { DesiredBgp } from "./plan.js";
import type { BgpStatus } from "./status.js";

const realParts = needs("received routes in the kernel, with FRR", [
  parts.root,
  parts.frr,
  parts.nativeAddon,
]);

const lab = new Lab("krt", 6);
const AS = 65001;
let us: Driver | undefined;

/** One ToR peer (iBGP); only 172.20/16, 10.244/16 and fd20::/16 may enter the kernel. */
function desired(installRoutes: boolean): DesiredBgp {
  const peer: BgpPeerState = {
    name: "tor-a",
    address: lab.v4(2),
    peerASN: AS,
    port: 179,
    holdTimeSeconds: 9,
    keepaliveSeconds: 3,
    connectRetrySeconds: 2,
    gracefulRestart: { enabled: true, restartTimeSeconds: 60 },
    families: ["ipv4-unicast", "ipv6-unicast"],
    hasPassword: false,
    importPolicy: {
      rules: [
        { prefix: "172.20.0.0/16", le: 32, action: "accept" },
        { prefix: "10.244.0.0/16", le: 32, action: "accept" },
        { prefix: "fd20::/16", le: 128, action: "accept" },
      ],
      default: "reject",
    },
    installRoutes,
    routes: [{ prefix: "10.244.7.0/24", advertisement: "pods", communities: [], largeCommunities: [] }],
  };
  return { instances: [{ name: "dc", localASN: AS, routerID: lab.v4(1), peers: [peer] }] };
}

const context = () => ({ nodeAddresses: [`${lab.v4(1)}/24`, `${lab.v6(1)}/64`] });

const startController = (opts: ControllerProcessOptions = {}) => startControllerIn(lab, opts);

const apply = (installRoutes: boolean) =>
  us!.call("apply", { bgp: desired(installRoutes), context: context(), passwords: {} });
const status = async () => (await us!.call<BgpStatus>("status")).peers[0]!;

interface KernelRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  metric?: number;
}

/** The agent namespace's routes with protocol bgp (what `ip -j route show proto bgp` prints). */
function bgpRoutes(): Map<string, KernelRoute> {
  const out = new Map<string, KernelRoute>();
  for (const fam of ["-4", "-6"]) {
    const text = sh("ip", ["-n", lab.ours, "-j", fam, "route", "show", "proto", "bgp"]);
    for (const r of JSON.parse(text || "[]") as KernelRoute[]) out.set(r.dst, r);
  }
  return out;
}

function routeGet(ip: string): string {
  return sh("ip", ["-n", lab.ours, "route", "get", ip], { allowFail: true });
}

function ping(ip: string): boolean {
  try {
    sh("ip", ["netns", "exec", lab.ours, "ping", "-c", "1", "-W", "2", ip]);
    return true;
  } catch {
    return false;
  }
}

function vtysh(...cmds: string[]): string {
  return sh("vtysh", ["--vty_socket", lab.dir, ...cmds.flatMap((c) => ["-c", c])], { ns: lab.theirs });
}

const configure = (...lines: string[]) => vtysh("configure terminal", `router bgp ${AS}`, ...lines);

const FRR_PREFIXES = ["172.20.1.0/24", "172.20.2.0/24", "10.244.9.0/24", "fd20:1::/64"];

describe.skipIf(realParts.skip)("received routes in the kernel, with FRR", () => {
  beforeAll(async () => {
    lab.up();
    // What FRR's prefixes lead to: addresses on its loopback, so a ping answered proves the path.
    sh("ip", ["addr", "add", "172.20.1.1/24", "dev", "lo"], { ns: lab.theirs });
    sh("ip", ["-6", "addr", "add", "fd20:1::1/64", "dev", "lo"], { ns: lab.theirs });
    // The control plane's route to another node's PodCIDR (node-routes.ts, proto 77), via .4.
    sh("ip", ["-n", lab.ours, "route", "add", "10.244.9.0/24", "via", lab.v4(4), "proto", "77"]);
    await startFrr(
      lab,
      `frr defaults traditional
hostname frr-krt-lab
log file ${lab.dir}/bgpd.log
!
router bgp ${AS}
 bgp router-id ${lab.v4(2)}
 no bgp network import-check
 no bgp default ipv4-unicast
 bgp graceful-restart
 neighbor ${lab.v4(1)} remote-as ${AS}
 neighbor ${lab.v4(1)} timers connect 2
 !
 address-family ipv4 unicast
  network 172.20.1.0/24
  network 172.20.2.0/24
  network 10.244.9.0/24
  neighbor ${lab.v4(1)} activate
 exit-address-family
 !
 address-family ipv6 unicast
  network fd20:1::/64
  neighbor ${lab.v4(1)} activate
 exit-address-family
!
`,
    );
    us = await startController();
  }, 60_000);

  afterAll(() => stopControllerAndLab(us, lab));

  it("without installRoutes the routes reach the looking glass and nothing reaches the kernel", async () => {
    await apply(false);
    await waitFor(
      "FRR's four prefixes accepted",
      async () => {
        const s = await status();
        return s.prefixes["ipv4-unicast"]?.accepted === 3 && s.prefixes["ipv6-unicast"]?.accepted === 1;
      },
      30_000,
    );
    expect([...bgpRoutes().keys()]).toEqual([]);
    expect(routeGet("172.20.1.1")).toBe(""); // no route at all: "Network is unreachable"
    const s = await status();
    expect(s).toMatchObject({ installRoutes: false, routesInstalled: 0, problems: [] });
  });

  it("with installRoutes FRR's prefixes go in via FRR's address, and traffic follows them", async () => {
    await apply(true);
    const routes = await waitFor("FRR's prefixes in the kernel", () => {
      const r = bgpRoutes();
      return ["172.20.1.0/24", "172.20.2.0/24", "fd20:1::/64"].every((p) => r.has(p)) ? r : undefined;
    });
    expect(routes.get("172.20.1.0/24")).toMatchObject({ gateway: lab.v4(2), metric: BGP_ROUTE_METRIC });
    // FRR announces one of its global addresses on the link (.2, .4 or .6) for IPv6.
    expect(routes.get("fd20:1::/64")).toMatchObject({ metric: BGP_ROUTE_METRIC });
    expect([2, 4, 6].map((h) => lab.v6(h))).toContain(routes.get("fd20:1::/64")?.gateway);
    expect(routeGet("172.20.1.1")).toContain(`via ${lab.v4(2)}`);
    expect(ping("172.20.1.1")).toBe(true);
    expect(ping("fd20:1::1")).toBe(true);
    const s = await waitFor("four routes installed in status", async () => {
      const x = await status();
      return x.routesInstalled === 4 ? x : undefined;
    });
    expect(s.problems).toEqual([]);
    // Our own PodCIDR is never routed towards a peer, whatever it sends.
    expect(routes.has("10.244.7.0/24")).toBe(false);
    const received = await us!.call<LookingGlassRoute[]>("received", { peer: "tor-a" });
    expect(received.map((r) => [r.prefix, r.installed]).sort()).toEqual(
      FRR_PREFIXES.map((p) => [p, true]).sort(),
    );
    expect(await us!.call<string>("received-text", { peer: "tor-a" })).toContain(
      "K = installed in the kernel",
    );
  });

  it("a prefix the control plane already routes keeps the control plane's route", async () => {
    const mine = sh("ip", ["-n", lab.ours, "route", "show", "10.244.9.0/24", "proto", "77"]);
    expect(mine).toContain(`via ${lab.v4(4)}`);
    expect(routeGet("10.244.9.5")).toContain(`via ${lab.v4(4)}`);
    // BGP's route sits behind it at a higher metric: a fallback, never a replacement.
    expect(bgpRoutes().get("10.244.9.0/24")).toMatchObject({ gateway: lab.v4(2), metric: BGP_ROUTE_METRIC });
  });

  it("a withdrawal in FRR removes the route; the others stay", async () => {
    configure("address-family ipv4 unicast", "no network 172.20.2.0/24");
    await waitFor("withdrawn prefix gone from the kernel", () => !bgpRoutes().has("172.20.2.0/24"));
    expect(bgpRoutes().has("172.20.1.0/24")).toBe(true);
    expect(ping("172.20.1.1")).toBe(true);
    await waitFor("three routes installed in status", async () => (await status()).routesInstalled === 3);
  });

  it("the session going down removes every route it brought; the control plane's stays", async () => {
    configure(`neighbor ${lab.v4(1)} shutdown`);
    await waitFor("BGP routes gone after the session went down", () => bgpRoutes().size === 0);
    expect(routeGet("172.20.1.1")).toBe("");
    expect(routeGet("10.244.9.5")).toContain(`via ${lab.v4(4)}`);
    expect((await status()).routesInstalled).toBe(0);
    configure(`no neighbor ${lab.v4(1)} shutdown`);
    await waitFor("routes back with the session", () => bgpRoutes().has("172.20.1.0/24"), 30_000);
  });

  it("while FRR restarts gracefully its routes stay in the kernel, then are refreshed", async () => {
    await waitFor("graceful restart negotiated", async () => (await status()).negotiated?.gracefulRestart);
    const pid = Number(fs.readFileSync(path.join(lab.dir, "bgpd.pid"), "utf8").trim());
    process.kill(pid, "SIGKILL"); // no NOTIFICATION: the helper keeps its routes, stale
    await waitFor("session down on our side", async () => (await status()).state !== "Established");
    const received = await us!.call<LookingGlassRoute[]>("received", { peer: "tor-a" });
    expect(received.find((r) => r.prefix === "172.20.1.0/24")).toMatchObject({
      stale: true,
      installed: true,
    });
    expect(bgpRoutes().has("172.20.1.0/24")).toBe(true);
    expect(ping("172.20.1.1")).toBe(true);
    lab.spawnDaemon("/usr/lib/frr/bgpd", [
      "-d",
      "-f",
      `${lab.dir}/bgpd.conf`,
      "-i",
      `${lab.dir}/bgpd.pid`,
      "-z",
      `${lab.dir}/zserv.api`,
      "--vty_socket",
      lab.dir,
      "-P",
      "0",
    ]);
    await waitFor(
      "routes fresh after FRR's End-of-RIB",
      async () => {
        const r = await us!.call<LookingGlassRoute[]>("received", { peer: "tor-a" });
        return r.length > 0 && r.every((x) => !x.stale);
      },
      60_000,
    );
    // FRR came back with its startup config: 172.20.2.0/24 is announced again.
    await waitFor("re-announced prefix installed", () => bgpRoutes().has("172.20.2.0/24"));
    expect(bgpRoutes().has("172.20.1.0/24")).toBe(true);
  });

  it("a graceful stop leaves the routes; the next agent adopts them and removes what nobody re-announces", async () => {
    await us!.call("stop", { graceful: true });
    await waitFor("controller process exits", () => us!.child.exitCode !== null, 10_000);
    expect(bgpRoutes().has("172.20.1.0/24")).toBe(true);
    expect(ping("172.20.1.1")).toBe(true);
    // A leftover of ours that FRR no longer announces, and another daemon's BGP route (metric 20).
    sh("ip", [
      "-n",
      lab.ours,
      "route",
      "add",
      "172.20.99.0/24",
      "via",
      lab.v4(2),
      "proto",
      "bgp",
      "metric",
      String(BGP_ROUTE_METRIC),
    ]);
    sh("ip", [
      "-n",
      lab.ours,
      "route",
      "add",
      "172.20.98.0/24",
      "via",
      lab.v4(2),
      "proto",
      "bgp",
      "metric",
      "20",
    ]);
    us = await startController({ restarting: true });
    await apply(true);
    expect(bgpRoutes().has("172.20.1.0/24")).toBe(true); // still forwarding before the session is up
    await waitFor(
      "unannounced leftover removed after End-of-RIB",
      () => !bgpRoutes().has("172.20.99.0/24"),
      30_000,
    );
    const routes = bgpRoutes();
    expect([...routes.keys()].sort()).toEqual([
      "10.244.9.0/24",
      "172.20.1.0/24",
      "172.20.2.0/24",
      "172.20.98.0/24",
      "fd20:1::/64",
    ]);
    expect(routes.get("172.20.98.0/24")?.metric).toBe(20);
    const s = await waitFor("adopted routes owned by the peer again", async () => {
      const x = await us!.call<BgpStatus>("status");
      return x.peers[0]!.routesInstalled === 4 && !x.adoptedKernelRoutes ? x : undefined;
    });
    expect(s.problems).toEqual([]);
  });

  it("a non-graceful stop removes every route it installed and nothing else", async () => {
    await us!.call("stop", { graceful: false });
    await waitFor("controller process exits", () => us!.child.exitCode !== null, 10_000);
    expect([...bgpRoutes().keys()]).toEqual(["172.20.98.0/24"]);
    expect(routeGet("10.244.9.5")).toContain(`via ${lab.v4(4)}`);
  });
});

/** A speaker stand-in that hands the installer best paths directly. */
class FakeSource extends EventEmitter {
  bestPath() {
    return undefined;
  }
  receivedRoutes() {
    return [];
  }
  peerStatus() {
    return undefined;
  }
}

const installerParts = needs("the installer against a scratch namespace's kernel", [parts.root]);

describe.skipIf(installerParts.skip)("the installer against a scratch namespace's kernel", () => {
  const scratch = new Scratch("krt");
  let ns: { name: string; path: string };
  beforeAll(() => {
    ns = scratch.netns("node");
    scratch.veth(ns, "up0", "up0p", ["10.98.0.1/24", "fd98::1/64"]);
  });
  afterAll(() => scratch.cleanup());

  it("installs 10,000 routes, and removes them, in one batch each", async () => {
    const source = new FakeSource();
    const k = new KernelRouteInstaller({ run: { netns: ns.path } });
    await k.start();
    k.attach(source as unknown as RouteSource);
    k.setPeers([{ address: "10.98.0.2" }]);
    const changes = (withBest: boolean): BestPathChange[] =>
      Array.from({ length: 10_000 }, (_, i) => ({
        family: "ipv4-unicast",
        prefix: `100.${64 + (i >> 8)}.${i & 255}.0/24`,
        ...(withBest
          ? { best: { from: "10.98.0.2", nextHops: ["10.98.0.2"], stale: false, attributes: {} as never } }
          : {}),
      }));
    const t0 = performance.now();
    source.emit("best-path", changes(true));
    await k.idle();
    const install = performance.now() - t0;
    const count = sh("ip", ["-n", ns.name, "route", "show", "proto", "bgp"]).trim().split("\n").length;
    expect(count).toBe(10_000);
    expect(k.installedFor("10.98.0.2")).toBe(10_000);
    const t1 = performance.now();
    source.emit("best-path", changes(false));
    await k.idle();
    const remove = performance.now() - t1;
    expect(sh("ip", ["-n", ns.name, "route", "show", "proto", "bgp"]).trim()).toBe("");
    console.log(`10,000 routes: installed in ${install.toFixed(0)} ms, removed in ${remove.toFixed(0)} ms`);
    expect(install).toBeLessThan(30_000);
  });

  const best = (nextHops: string[], from = "10.98.0.2") => ({
    from,
    nextHops,
    stale: false,
    attributes: {} as never,
  });
  const routes = () =>
    sh("ip", ["-n", ns.name, "route", "show", "proto", "bgp"]) +
    sh("ip", ["-n", ns.name, "-6", "route", "show", "proto", "bgp"]);

  it("expresses every next hop the kernel can take, and reports the ones it cannot", async () => {
    const source = new FakeSource();
    const k = new KernelRouteInstaller({ run: { netns: ns.path } });
    await k.start();
    k.attach(source as unknown as RouteSource);
    k.setPeers([{ address: "10.98.0.2" }]);
    source.emit("best-path", [
      // IPv6 next hops: the global one wins over the link-local one.
      { family: "ipv6-unicast", prefix: "fd30::/64", best: best(["fd98::2", "fe80::2"]) },
      // Only link-local: the interface comes from the route towards the peer.
      { family: "ipv6-unicast", prefix: "fd31::/64", best: best(["fe80::2"]) },
      // RFC 8950: an IPv4 prefix via an IPv6 next hop.
      { family: "ipv4-unicast", prefix: "100.70.0.0/16", best: best(["fd98::2"]) },
      // The kernel has no IPv6 route via an IPv4 gateway.
      { family: "ipv6-unicast", prefix: "fd32::/64", best: best(["::ffff:10.98.0.2"]) },
    ] satisfies BestPathChange[]);
    await k.idle();
    const text = routes();
    expect(text).toContain("fd30::/64 via fd98::2 dev up0 metric 2000");
    expect(text).toContain("fd31::/64 via fe80::2 dev up0 metric 2000");
    expect(text).toContain("100.70.0.0/16 via inet6 fd98::2 dev up0 metric 2000");
    expect(text).not.toContain("fd32::");
    expect(k.installedFor("10.98.0.2")).toBe(3);
    expect(k.problemsFor("10.98.0.2")).toEqual([
      "1 route not installed in the kernel, e.g. fd32::/64 via 10.98.0.2: the kernel cannot route IPv6 via an IPv4 next hop",
    ]);
    await k.clear();
    expect(routes().trim()).toBe("");
  });

  it("a next hop that is not on-link is refused, reported, and installed once it is", async () => {
    const source = new FakeSource();
    const k = new KernelRouteInstaller({ run: { netns: ns.path }, retryMs: 200 });
    await k.start();
    k.attach(source as unknown as RouteSource);
    k.setPeers([{ address: "10.98.0.2" }]);
    source.emit("best-path", [
      { family: "ipv4-unicast", prefix: "100.71.0.0/16", best: best(["10.97.0.2"]) },
    ] satisfies BestPathChange[]);
    await k.idle();
    expect(routes()).not.toContain("100.71.0.0/16");
    expect(k.problemsFor("10.98.0.2")[0]).toMatch(
      /^1 route not installed in the kernel, e\.g\. 100\.71\.0\.0\/16 via 10\.97\.0\.2: .*gateway/i,
    );
    sh("ip", ["-n", ns.name, "addr", "add", "10.97.0.1/24", "dev", "up0"]);
    await waitFor("route installed on retry", () => routes().includes("100.71.0.0/16 via 10.97.0.2"), 10_000);
    await waitFor("problem gone", () => k.problemsFor("10.98.0.2").length === 0);
    await k.clear();
  });

  it("an operator's route for the same prefix stays in front and survives our delete", async () => {
    sh("ip", ["-n", ns.name, "route", "add", "100.72.0.0/16", "via", "10.98.0.3"]);
    const source = new FakeSource();
    const k = new KernelRouteInstaller({ run: { netns: ns.path } });
    await k.start();
    k.attach(source as unknown as RouteSource);
    k.setPeers([{ address: "10.98.0.2" }]);
    source.emit("best-path", [
      { family: "ipv4-unicast", prefix: "100.72.0.0/16", best: best(["10.98.0.2"]) },
    ] satisfies BestPathChange[]);
    await k.idle();
    expect(sh("ip", ["-n", ns.name, "route", "get", "100.72.1.1"])).toContain("via 10.98.0.3");
    expect(routes()).toContain("100.72.0.0/16 via 10.98.0.2 dev up0 metric 2000");
    source.emit("best-path", [
      { family: "ipv4-unicast", prefix: "100.72.0.0/16" },
    ] satisfies BestPathChange[]);
    await k.idle();
    expect(routes()).not.toContain("100.72.0.0/16");
    expect(sh("ip", ["-n", ns.name, "route", "show", "100.72.0.0/16"])).toContain("via 10.98.0.3");
  });
});
