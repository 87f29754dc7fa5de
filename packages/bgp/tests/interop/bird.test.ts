import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Driver, Lab, sh, until } from "../../testing/index.js";
import {
  mainPeer,
  shortHoldPeer,
  startUs,
  untilDropped,
  untilEstablished,
  untilNotification,
  untilReceived,
  wrongAsPeer,
} from "./steps.js";

// Interop with BIRD 2.0 in its own network namespace.

const lab = new Lab("bird", 3);
let us: Driver;
const birdAs = 65030;

function birdc(cmd: string): string {
  // birdc exits non-zero for "Network not found", which is an answer here, not a failure.
  return sh("birdc", ["-s", path.join(lab.dir, "bird.ctl"), ...cmd.split(" ")], {
    ns: lab.theirs,
    allowFail: true,
  });
}

beforeAll(async () => {
  lab.up();
  fs.writeFileSync(
    path.join(lab.dir, "bird.conf"),
    `log "${lab.dir}/bird.log" all;
router id ${lab.v4(2)};
protocol device { scan time 2; }
protocol static s4 { ipv4; route 172.16.30.0/24 blackhole; }
protocol static s6 { ipv6; route 2001:db8:30::/48 blackhole; }
protocol bgp meridian {
  local ${lab.v4(2)} as ${birdAs};
  neighbor ${lab.v4(1)} as 65001;
  hold time 9;
  connect retry time 2;
  start delay time 1;
  ipv4 { import all; export where source = RTS_STATIC; };
  ipv6 { import all; export where source = RTS_STATIC; next hop address ${lab.v6(2)}; };
}
protocol bgp shorthold {
  local ${lab.v4(6)} as ${birdAs};
  neighbor ${lab.v4(5)} as 65001;
  hold time 3;
  keepalive time 1;
  connect retry time 2;
  start delay time 1;
  ipv4 { import all; export none; };
}
protocol bgp wrongas {
  local ${lab.v4(4)} as ${birdAs};
  neighbor ${lab.v4(3)} as 65999;
  connect retry time 2;
  start delay time 1;
  error wait time 1, 5;
  ipv4 { import all; export none; };
}
`,
  );
  lab.spawnDaemon("bird", [
    "-f",
    "-c",
    path.join(lab.dir, "bird.conf"),
    "-s",
    path.join(lab.dir, "bird.ctl"),
  ]);
  await until(() => birdc("show status").includes("Daemon is up"), "BIRD control socket");
  us = await startUs(lab, [
    mainPeer(lab, birdAs, ["ipv4-unicast", "ipv6-unicast"]),
    wrongAsPeer(lab, birdAs),
    shortHoldPeer(lab, birdAs),
  ]);
}, 60_000);

afterAll(async () => {
  await lab.cleanup();
});

describe("BIRD interop", () => {
  it("establishes a session that both sides see as Established", async () => {
    await untilEstablished(us, lab.v4(2));
    await until(
      () => /BGP state:\s+Established/.test(birdc("show protocols all meridian")),
      "BIRD Established",
    );
    expect((await us.peer(lab.v4(2))).negotiated).toMatchObject({
      families: ["ipv4-unicast", "ipv6-unicast"],
      as4: true,
      routeRefresh: true,
    });
  });

  // Issue 19, bug 1: a hold timer not restarted in Established flapped every session once per
  // hold time, and no interop test lasted that long.
  it("a session with a 3 s hold time stays up past three hold times, on both sides", async () => {
    await untilEstablished(us, lab.v4(6));
    expect((await us.peer(lab.v4(6))).negotiated).toMatchObject({ holdTime: 3 });
    // BIRD's protocol line: name, proto, table, state, since (the last state change), info.
    const line = () => {
      const l = birdc("show protocols shorthold")
        .split("\n")
        .find((x) => x.startsWith("shorthold"));
      const [, , , state, since, info] = l?.trim().split(/\s+/) ?? [];
      return { state, since, info };
    };
    const before = await until(() => {
      const l = line();
      return l.info === "Established" ? l : undefined;
    }, "BIRD shorthold Established");
    await new Promise((r) => setTimeout(r, 9_500));
    const ours = await us.peer(lab.v4(6));
    expect(ours).toMatchObject({ state: "Established", flaps: 0 });
    expect(ours.uptimeSeconds).toBeGreaterThanOrEqual(9);
    expect(line()).toEqual({ state: "up", since: before.since, info: "Established" });
  }, 30_000);

  it("learns BIRD's IPv4 and IPv6 static routes", async () => {
    const v4 = await untilReceived(us, lab, "ipv4-unicast", "172.16.30.0/24", "BIRD IPv4 route");
    expect(v4).toMatchObject({ asPath: [birdAs], nextHops: [lab.v4(2)] });
    const v6 = await untilReceived(us, lab, "ipv6-unicast", "2001:db8:30::/48", "BIRD IPv6 route");
    expect(v6.nextHops[0]).toBe(lab.v6(2));
  });

  it("BIRD shows our IPv4 and IPv6 advertisements with the attributes we sent", async () => {
    await us.originate([
      { prefix: "10.200.0.0/16", med: 42, communities: ["65001:100"], largeCommunities: ["65001:1:2"] },
      { prefix: "2001:db8:200::/48", communities: ["65001:6"] },
    ]);
    const out = await until(() => {
      const t = birdc("show route 10.200.0.0/16 all");
      return t.includes("BGP.as_path") ? t : undefined;
    }, "our route in BIRD");
    expect(out).toMatch(/BGP\.as_path: 65001\n/);
    expect(out).toMatch(/BGP\.next_hop: 10\.99\.3\.1\n/);
    expect(out).toMatch(/BGP\.med: 42\n/);
    expect(out).toMatch(/BGP\.community: \(65001,100\)/);
    expect(out).toMatch(/BGP\.large_community: \(65001, 1, 2\)/);
    const out6 = await until(() => {
      const t = birdc("show route 2001:db8:200::/48 all");
      return t.includes("BGP.as_path") ? t : undefined;
    }, "our IPv6 route in BIRD");
    expect(out6).toContain(`BGP.next_hop: ${lab.v6(1)}`);
    expect(out6).toMatch(/BGP\.community: \(65001,6\)/);
  });

  it("withdrawals work both ways", async () => {
    await us.withdraw([{ prefix: "10.200.0.0/16" }]);
    await until(() => !birdc("show route 10.200.0.0/16 all").includes("BGP.as_path"), "BIRD drops our route");
    birdc("disable s4");
    await untilDropped(us, lab, "172.16.30.0/24", "we drop BIRD's route");
  });

  it("BIRD's NOTIFICATION for a wrong ASN shows in our status in words", async () => {
    const st = await untilNotification(us, lab, "NOTIFICATION from BIRD");
    expect(st.lastErrorWords).toMatch(/^received: OPEN Message Error \/ Bad Peer AS/);
  });
});
