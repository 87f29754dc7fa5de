// Which policy datapath `meridian-agent run` gets: the eBPF datapath when the machine supports it,
// otherwise the unenforced stand-in, named with the reason (or a refusal to start when the
// configuration requires eBPF).
import pino from "pino";
import { type AgentConfig, ConfigError } from "../../config.js";
import { type PolicyDatapath, UnenforcedDatapath } from "./datapath.js";
import { EbpfDatapath, ebpfUnsupportedReason } from "./ebpf-datapath.js";

export function openPolicyDatapath(config: AgentConfig): PolicyDatapath {
  if (config.datapath === "none") return new UnenforcedDatapath("datapath disabled by configuration");
  const reason = ebpfUnsupportedReason(config.bpfPinDir);
  if (!reason) {
    try {
      return EbpfDatapath.open({
        pinDir: config.bpfPinDir,
        log: pino({ level: config.logLevel, base: { node: config.nodeName, component: "datapath" } }),
      });
    } catch (err) {
      if (config.datapath === "ebpf") throw err;
      return new UnenforcedDatapath(
        `loading the eBPF datapath failed: ${(err as Error).message.split("\n")[0]}`,
      );
    }
  }
  if (config.datapath === "ebpf")
    throw new ConfigError(`datapath "ebpf" required but unavailable: ${reason}`);
  return new UnenforcedDatapath(reason);
}
