// `meridian-agent dns-proxy --options JSON`: what the agent's supervisor starts (supervisor.ts). Not in
// the usage text: it is not run by hand. Kept apart from cli/main.ts so the proxy loads only its modules.
import { parseArgs } from "node:util";
import { runDnsProxy } from "./proxy-process.js";
import type { ProxyProcessOptions } from "./wire.js";

export async function runDnsProxyCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { options: { type: "string" } }, strict: true });
  if (typeof values.options !== "string") {
    process.stderr.write("meridian-agent dns-proxy: --options JSON is required\n");
    return 2;
  }
  return runDnsProxy(JSON.parse(values.options) as ProxyProcessOptions);
}
