// Test support: runs one BgpController inside a network namespace (Node cannot enter one itself).
// Options come as JSON in argv[2]; commands arrive as JSON lines on stdin and each gets one JSON
// line back, the protocol of packages/bgp/tests/interop/driver.ts so its Driver class can talk to us.
import readline from "node:readline";
import type { PolicyConfig } from "@meridian/bgp";
import { formatPeers, formatRoutes } from "./cli.js";
import { type ApplyContext, BgpController } from "./controller.js";
import type { AdvertisedRoute, DesiredBgp } from "./plan.js";
import { bgpComponentStatus } from "./status.js";
import { nativeTransport } from "./transport.js";

const cfg = JSON.parse(process.argv[2]!) as {
  restarting?: boolean;
  importPolicy?: PolicyConfig;
  installRoutes?: boolean;
};

// Stands in for the control plane's bgpPassword query: keys arrive with each apply.
let passwords: Record<string, string> = {};
const controller = new BgpController({
  transport: await nativeTransport(),
  restarting: cfg.restarting,
  resolvePassword: async (ref) => passwords[ref],
  peerPolicy: () => ({
    ...(cfg.importPolicy ? { importPolicy: cfg.importPolicy } : {}),
    installRoutes: !!cfg.installRoutes,
  }),
});

type Command =
  | { id: number; op: "apply"; bgp: DesiredBgp; context?: ApplyContext; passwords?: Record<string, string> }
  | { id: number; op: "set-routes"; source: string; routes: AdvertisedRoute[] }
  | { id: number; op: "status" | "component" | "peers-text" | "vpn" }
  | { id: number; op: "received" | "advertised" | "routes-text"; peer: string; family?: string }
  | { id: number; op: "stop"; graceful?: boolean };

async function handle(c: Command): Promise<unknown> {
  switch (c.op) {
    case "apply":
      passwords = c.passwords ?? {};
      await controller.apply(c.bgp, c.context);
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
    case "received":
      return controller.receivedRoutes(c.peer, c.family);
    case "advertised":
      return controller.advertisedRoutes(c.peer, c.family);
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
