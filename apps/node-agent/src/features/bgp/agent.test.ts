// The whole agent daemon (`meridian-agent run`) speaking BGP to FRR 8.4: the BGP instance comes
// from the desired state (here the one the sync loop keeps on disk, so no API is needed: the
// configured one is unreachable and the agent enforces its last state), and what it does is read
// through FRR's vtysh and the agent's own CLI. Needs root, FRR and the built native addon.
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Lab, sh, startFrr } from "@meridian/bgp/testing";
import type { NodeDesiredState } from "@meridian/model";
import { contentHashOf } from "@meridian/model";
import { desiredState } from "@meridian/model/testing";
import { needs, parts } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_BIN } from "../../cni/invoke.js";
import { type AgentProcess, Scratch } from "../../testing/netns.js";
import { waitFor } from "../../testing/wait.js";
import type { BgpStatus } from "./status.js";

const realParts = needs("the agent daemon runs BGP from its desired state", [
  parts.root,
  parts.frr,
  parts.nativeAddon,
]);

const lab = new Lab("agentd", 8);
const scratch = new Scratch("bgpd");
const AS = 65001;
const POD_CIDR = "10.244.8.0/24";
let agent: AgentProcess | undefined;

/** A whole state (every section, the agent refuses less), hashed as the compiler hashes it. */
function bgpState(): NodeDesiredState {
  const state = desiredState(1, {
    node: {
      name: "bgp-n1",
      labels: {},
      addresses: [`${lab.v4(1)}/24`, `${lab.v6(1)}/64`],
      podCIDRs: [POD_CIDR],
    },
    bgp: {
      instances: [
        {
          name: "dc",
          localASN: AS,
          routerID: lab.v4(1),
          peers: [
            {
              name: "tor-a",
              address: lab.v4(2),
              peerASN: AS,
              port: 179,
              holdTimeSeconds: 9,
              keepaliveSeconds: 3,
              connectRetrySeconds: 2,
              gracefulRestart: { enabled: true, restartTimeSeconds: 60 },
              families: ["ipv4-unicast"],
              hasPassword: false,
              routes: [
                {
                  prefix: POD_CIDR,
                  advertisement: "pods",
                  communities: ["65001:100"],
                  largeCommunities: [],
                },
              ],
            },
          ],
        },
      ],
    },
  });
  return { ...state, contentHash: contentHashOf({ ...state }) };
}

function vtysh(cmd: string): string {
  return sh("vtysh", ["--vty_socket", lab.dir, "-c", cmd], { ns: lab.theirs });
}

function frrPath(prefix: string): { stale?: boolean; community?: { string: string } } | undefined {
  const j = JSON.parse(vtysh(`show bgp ipv4 unicast ${prefix} json`) || "{}") as {
    paths?: { stale?: boolean; community?: { string: string } }[];
  };
  return j.paths?.[0];
}

function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [AGENT_BIN, ...args, "--socket", agent!.socket],
      { timeout: 30_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

describe.skipIf(realParts.skip)("the agent daemon runs BGP from its desired state", () => {
  beforeAll(async () => {
    lab.up();
    await startFrr(
      lab,
      `frr defaults traditional
hostname frr-agentd-lab
log file ${lab.dir}/bgpd.log
!
router bgp ${AS}
 bgp router-id ${lab.v4(2)}
 bgp graceful-restart
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor ${lab.v4(1)} remote-as ${AS}
 neighbor ${lab.v4(1)} timers connect 2
 !
 address-family ipv4 unicast
  network 172.16.10.0/24
  neighbor ${lab.v4(1)} activate
 exit-address-family
!
`,
    );
    // What the sync loop leaves on disk: a credential and the last desired state. The API is
    // unreachable, so the agent runs on that state (as it does when the control plane is away).
    const api = "http://127.0.0.1:9";
    const state = bgpState();
    const stateDir = path.join(scratch.dir, "state");
    fs.mkdirSync(stateDir, { recursive: true });
    fs.writeFileSync(
      path.join(stateDir, "credential.json"),
      JSON.stringify({ api, nodeName: "bgp-n1", credential: "c", joinedAt: new Date().toISOString() }),
      { mode: 0o600 },
    );
    fs.writeFileSync(
      path.join(stateDir, "desired-state.json"),
      JSON.stringify({
        revision: 1,
        contentHash: state.contentHash,
        state,
        receivedAt: new Date().toISOString(),
      }),
    );
    agent = await scratch.startAgent(lab.ours, [
      "--api",
      api,
      "--node-name",
      "bgp-n1",
      "--pod-cidr",
      POD_CIDR,
      "--http-address",
      "",
      "--datapath",
      "none",
    ]);
  }, 90_000);

  afterAll(async () => {
    await scratch.cleanup();
    await lab.cleanup();
  });

  it("advertises the PodCIDR to FRR and shows the session Established in `bgp peers`", async () => {
    const pods = await waitFor("PodCIDR in FRR", () => frrPath(POD_CIDR), 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\nagent output:\n${agent!.logs().slice(-3000)}`);
    });
    expect(pods.community?.string).toBe("65001:100");
    const peers = await waitFor(
      "Established in `meridian-agent bgp peers --json`",
      async () => {
        const s = JSON.parse(await cli(["bgp", "peers", "--json"])) as BgpStatus;
        return s.peers[0]?.state === "Established" ? s : undefined;
      },
      30_000,
    );
    expect(peers).toMatchObject({ instances: [{ name: "dc", localASN: AS }], running: true });
    expect(peers.peers[0]).toMatchObject({ name: "tor-a", address: lab.v4(2) });
    expect(peers.peers[0]!.prefixes["ipv4-unicast"]?.advertised).toBe(1);
    expect(await cli(["bgp", "peers"])).toMatch(/dc\s+tor-a\s+10\.99\.8\.2\s+65001\s+Established/);

    // Looking glass: FRR's network in, our PodCIDR out; a family filter; an unknown peer.
    const received = JSON.parse(await cli(["bgp", "routes", "received", "tor-a", "--json"])) as {
      prefix: string;
    }[];
    expect(received.map((r) => r.prefix)).toContain("172.16.10.0/24");
    const advertised = await cli(["bgp", "routes", "advertised", lab.v4(2), "ipv4-unicast"]);
    expect(advertised).toContain(POD_CIDR);
    await expect(cli(["bgp", "routes", "received", "nobody"])).rejects.toThrow(/no BGP peer "nobody"/);
    // BGP applied without error alongside the rest of the state.
    const status = JSON.parse(await cli(["status", "--json"])) as { lastError?: string };
    expect(status.lastError).toBeUndefined();
  }, 90_000);

  it("stops gracefully on SIGTERM: FRR keeps our route (stale) and the restart marker is left", async () => {
    await agent!.stop("SIGTERM");
    expect(fs.existsSync(path.join(agent!.stateDir, "bgp-graceful-stop.json"))).toBe(true);
    const stale = await waitFor("our PodCIDR stale in FRR", () => frrPath(POD_CIDR)?.stale, 20_000);
    expect(stale).toBe(true);
  }, 60_000);
});
