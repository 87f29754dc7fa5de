// Test support: runs one BgpController inside a network namespace (Node cannot enter one itself).
// Options come as JSON in argv[2]; commands arrive as JSON lines on stdin and each gets one JSON
// line back, the protocol of packages/bgp/testing/driver.ts so its Driver class can talk to us.
import readline from "node:readline";
import type { BgpImportPolicy } from "@meridian/model";
import { formatPeers, formatRoutes } from "./cli.js";
import { type ApplyContext, BgpController } from "./controller.js";
import type { AdvertisedRoute, DesiredBgp } from "./plan.js";
import { bgpComponentStatus } from "./status.js";
import { nativeTransport } from "./transport.js";

const cfg = JSON.parse(process.argv[2]!) as {
  restarting?: boolean;
  /** RFC 4724 selection deferral bound for a restarting controller (seconds). */
  selectionDeferralSeconds?: number;
  /** Defaults for every peer of every apply that does not set its own (as the API would). */
  importPolicy?: BgpImportPolicy;
  installRoutes?: boolean;
};

function withPeerDefaults(bgp: DesiredBgp): DesiredBgp {
  if (!cfg.importPolicy && !cfg.installRoutes) return bgp;
  return {
    instances: bgp.instances.map((i) => ({
      ...i,
      peers: i.peers.map((p) => ({
        ...(cfg.importPolicy ? { importPolicy: cfg.importPolicy } : {}),
        ...(cfg.installRoutes ? { installRoutes: true } : {}),
        ...p,
      })),
    })),
  };
}

// Stands in for the control plane's bgpPassword query: keys arrive with each apply.
let passwords: Record<string, string> = {};
/** passwordRefs fetched since the last "fetches" command: proves keys are fetched only on a version change. */
let fetches: string[] = [];
const controller = new BgpController({
  transport: await nativeTransport(),
  restarting: cfg.restarting,
  ...(cfg.selectionDeferralSeconds !== undefined
    ? { selectionDeferralSeconds: cfg.selectionDeferralSeconds }
    : {}),
  resolvePassword: async (ref) => {
    fetches.push(ref);
    return passwords[ref];
  },
});

type Command =
  | { id: number; op: "apply"; bgp: DesiredBgp; context?: ApplyContext; passwords?: Record<string, string> }
  | { id: number; op: "set-routes"; source: string; routes: AdvertisedRoute[] }
  | { id: number; op: "status" | "component" | "peers-text" | "vpn" | "fetches" }
  | {
      id: number;
      op: "received" | "advertised" | "routes-text" | "received-text";
      peer: string;
      family?: string;
    }
  | { id: number; op: "stop"; graceful?: boolean };

async function handle(c: Command): Promise<unknown> {
  switch (c.op) {
    case "apply":
      passwords = c.passwords ?? {};
      await controller.apply(withPeerDefaults(c.bgp), c.context);
      return true;
    case "set-routes":
      await controller.setRoutes(c.source, c.routes);
      return true;
    case "status":
      return controller.status();
    case "component":
      return bgpComponentStatus(controller.status());
    case "peers-text":
      return formatPeers(controller.status());
    case "vpn":
      return controller.vpnRoutes();
    case "fetches": {
      const out = fetches;
      fetches = [];
      return out;
    }
    case "received":
      return controller.receivedRoutes(c.peer, c.family);
    case "advertised":
      return controller.advertisedRoutes(c.peer, c.family);
    case "received-text":
      return formatRoutes(controller.receivedRoutes(c.peer, c.family));
    case "routes-text":
      return formatRoutes(controller.advertisedRoutes(c.peer, c.family));
    case "stop":
      await controller.stop({ graceful: c.graceful });
      setTimeout(() => process.exit(0), 100);
      return true;
  }
}

process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const c = JSON.parse(line) as Command;
  handle(c).then(
    (result) => process.stdout.write(`${JSON.stringify({ id: c.id, result })}\n`),
    (e: Error) => process.stdout.write(`${JSON.stringify({ id: c.id, error: e.message })}\n`),
  );
});
rl.on("close", () => process.exit(0));
