// Lab support: the agent's BGP and SRv6 subsystems inside the node's network namespace (Node
// cannot enter one itself), wired as apps/node-agent/src/features/registry.ts wires them: the
// SRv6 feature imports the controller's received VPN routes and hands its VRFs' routes to
// `setRoutes("srv6", …)`. The SRv6 maps are the pinned datapath the test process loaded.
// Config comes as JSON in argv[2]; commands as JSON lines on stdin, one JSON line back each (the
// protocol of packages/bgp/testing/driver.ts, so its Driver class talks to us).
import readline from "node:readline";
import type { NodeDesiredState } from "@meridian/model";
import { BgpController } from "@meridian/node-agent/features/bgp/controller";
import { nativeTransport } from "@meridian/node-agent/features/bgp/transport";
import type { FeatureContext } from "@meridian/node-agent/features/feature";
import { Srv6Feature, srv6Cli } from "@meridian/node-agent/features/srv6/feature";

const cfg = JSON.parse(process.argv[2]!) as {
  pinDir: string;
  source: string;
  mtu: number;
  endpoints: Record<string, { hostIfname: string; addresses: string[]; mac: string; hostMac: string }>;
};

const log = {
  error: (o: unknown, m?: string) => console.error(m, o),
  warn: (o: unknown, m?: string) => console.error(m, o),
  info: () => {},
  debug: () => {},
};
const ctx = { log, endpoint: (ref: string) => cfg.endpoints[ref] } as unknown as FeatureContext;
const controller = new BgpController({ transport: await nativeTransport(), kernelRoutes: false });
const srv6 = new Srv6Feature(ctx, {
  pinDir: cfg.pinDir,
  source: cfg.source,
  mtu: cfg.mtu,
  vpnRoutes: () => controller.vpnRoutes(),
  onRoutesChanged: (l) => controller.onRoutesChanged(l),
  exportRoutes: (routes) => controller.setRoutes("srv6", routes),
});
await srv6.start();

type Command =
  | { id: number; op: "apply"; state: NodeDesiredState }
  | { id: number; op: "cli"; args: string[] }
  | { id: number; op: "view" | "status" | "bgp" | "vpn" }
  | { id: number; op: "advertised"; peer: string; family: string }
  | { id: number; op: "stop" };

const view = () => (srv6 as unknown as { view(): unknown }).view();

async function handle(c: Command): Promise<unknown> {
  switch (c.op) {
    case "apply":
      // The daemon's order: BGP first, then SRv6 (which exports through BGP).
      await controller.apply(c.state.bgp, { nodeAddresses: c.state.node.addresses, srv6: c.state.srv6 });
      await srv6.apply(c.state);
      return true;
    case "cli": {
      // `meridian-agent srv6 …` against this feature's local API answer.
      const lines: string[] = [];
      const code = await srv6Cli.commands[0]!.run({
        positionals: c.args,
        values: {},
        json: false,
        get: async () => view(),
        post: async (p) => {
          throw new Error(`srv6 commands only read; POST ${p} has no answer here`);
        },
        stream: async () => {},
        out: (l) => lines.push(l),
      });
      return { code, text: lines.join("\n") };
    }
    case "view":
      return view();
    case "status":
      return srv6.status();
    case "bgp":
      return controller.status();
    case "vpn":
      return controller.vpnRoutes();
    case "advertised":
      return controller.advertisedRoutes(c.peer, c.family);
    case "stop":
      await controller.stop();
      await srv6.close();
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
