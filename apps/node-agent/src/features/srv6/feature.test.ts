// The SRv6 subsystem against a real pinned datapath: desired state in, maps out; BGP route changes
// re-applied; a state it cannot write fails and keeps the last good one; status fits its schema.
import { PinnedDatapath } from "@meridian/node-agent/datapath/index";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import type { AdvertisedRoute } from "../bgp/plan";
import type { FeatureContext } from "../feature";
import { Srv6Feature } from "./feature";
import type { PlanVpnRoute, Srv6Section } from "./plan";

const pinDir = `/sys/fs/bpf/meridian-test-${process.pid}-srv6feat`;
const dp = PinnedDatapath.load({ pinDir });
afterAll(() => {
  dp.close();
  PinnedDatapath.destroy(pinDir);
});

const section = (segments: string[]): Srv6Section => ({
  locators: [
    {
      pool: "p",
      locator: "fc00:0:1::/48",
      structure: { locatorBlockLength: 32, locatorNodeLength: 16, functionLength: 16, argumentLength: 0 },
    },
  ],
  vrfs: [
    {
      name: "red",
      vrfID: 10,
      behavior: "End.DT4",
      encapMode: "HEncapsRed",
      sid: "fc00:0:1:a::",
      routeDistinguisher: "65000:10",
      importRouteTargets: ["65000:10"],
      exportRouteTargets: ["65000:110"],
      memberEndpoints: ["c1/eth0"],
    },
  ],
  policies: [{ name: "s", vrf: "red", vrfID: 10, destination: "192.168.50.0/24", segments }],
});

describe("Srv6Feature", () => {
  let routes: PlanVpnRoute[] = [];
  let listener: (() => void) | undefined;
  const exports: AdvertisedRoute[][] = [];
  const ctx = {
    log: pino({ level: "silent" }),
    endpoint: (ref: string) =>
      ref === "c1/eth0"
        ? ({
            hostIfname: "lo",
            addresses: ["10.1.0.10/32"],
            mac: "0a:00:00:00:00:10",
            hostMac: "0a:00:00:00:00:01",
          } as never)
        : undefined,
  } as unknown as FeatureContext;
  const f = new Srv6Feature(ctx, {
    pinDir,
    vpnRoutes: () => routes,
    onRoutesChanged: (l) => {
      listener = l;
    },
    exportRoutes: async (r) => {
      exports.push(r);
    },
  });

  it("applies the desired state, follows BGP, keeps the last good state on failure", async () => {
    await f.start();
    await f.apply({ srv6: section(["fc00:0:9::1"]) } as never);
    const v = () =>
      (f as unknown as { view(): Record<string, unknown> }).view() as never as {
        datapath: { policies: { destination: string; source: string }[]; members: { ifindex: number }[] };
      };
    expect(v().datapath.policies).toEqual([
      expect.objectContaining({ destination: "192.168.50.0/24", source: "static" }),
    ]);
    expect(v().datapath.members).toEqual([expect.objectContaining({ ifindex: 1 })]);
    // The member's address goes to BGP as a VPNv4 route with the SID, transposed function bits.
    expect(exports).toEqual([
      [
        {
          prefix: "10.1.0.10/32",
          routeDistinguisher: "65000:10",
          routeTargets: ["65000:110"],
          srv6: {
            sid: "fc00:0:1:a::",
            behavior: 0x13,
            structure: {
              locatorBlockLength: 32,
              locatorNodeLength: 16,
              functionLength: 16,
              argumentLength: 0,
              transpositionLength: 16,
              transpositionOffset: 48,
            },
          },
          origin: "srv6 vrf red",
        },
      ],
    ]);

    routes = [
      {
        peer: "pe",
        family: "vpnv4",
        routeTargets: ["65000:10"],
        prefix: "192.168.60.0/24",
        sid: "fc00:0:2:e::",
        stale: false,
      },
    ];
    listener?.();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(
      v()
        .datapath.policies.map((p) => `${p.destination} ${p.source}`)
        .sort(),
    ).toEqual(["192.168.50.0/24 static", "192.168.60.0/24 bgp"]);
    // The status the control plane gets lists both policies with where each came from.
    const reported = f.status()?.detail as {
      policies: { destination: string; source: string; peer?: string }[];
    };
    expect(reported.policies.map((p) => `${p.destination} ${p.source} ${p.peer ?? "-"}`).sort()).toEqual([
      "192.168.50.0/24 static -",
      "192.168.60.0/24 bgp pe",
    ]);

    await expect(f.apply({ srv6: section(Array(5).fill("fc00::1")) } as never)).rejects.toThrow(/5 segments/);
    expect(v().datapath.policies).toHaveLength(2);
    expect(f.lastError()).toMatch(/5 segments/);
    const st = f.status();
    expect(st?.state).toBe("error");
    expect(() => f.statusSchema.parse(st)).not.toThrow();

    routes = [];
    await f.apply({ srv6: section(["fc00:0:9::1"]) } as never);
    expect(v().datapath.policies).toHaveLength(1);
    // Unchanged exports are not handed to BGP again.
    expect(exports).toHaveLength(1);
    expect(f.status()?.state).toBe("ok");
    await f.close();
  });
});
