// The agent's subsystems, in the order the daemon applies a desired state to them: the one list to
// change when a feature is added. Each lives in src/features/<name>/ and implements AgentFeature
// (feature.ts); its command-line part (FeatureCli) is listed beside it, since the CLI runs in a
// process of its own that asks the daemon over the socket.
//
// The policy datapath comes first: it refuses a state it cannot enforce, and then nothing after it
// applies that state. A subsystem that needs another's service gets it here, by name — e.g. the
// DNS proxy claims ipcache entries through `policy.claimIpcache("dns-proxy", …)`.
import type { FeatureCli } from "../cli/command.js";
import { type BgpControllerOptions, BgpFeature, bgpCli } from "./bgp/index.js";
import { DnsFeature, dnsCli } from "./dns/index.js";
import { EgressFeature, egressCli } from "./egress/index.js";
import type { AgentFeature, FeatureContext } from "./feature.js";
import {
  EbpfDatapath,
  type PolicyDatapath,
  PolicyFeature,
  policyCli,
  UnenforcedDatapath,
} from "./policy/index.js";
import { RoutingFeature, routingCli } from "./routing/index.js";
import { Srv6Feature, srv6Cli } from "./srv6/index.js";

export interface FeatureOptions {
  /** The policy datapath (eBPF, or the unenforced stand-in); default: unenforced. */
  datapath?: PolicyDatapath;
  /** BGP controller options for tests (a listen port); false: no BGP subsystem. */
  bgp?: Partial<BgpControllerOptions> | false;
}

export function createFeatures(ctx: FeatureContext, opts: FeatureOptions = {}): AgentFeature[] {
  const policy = new PolicyFeature(ctx, opts.datapath ?? new UnenforcedDatapath());
  const datapath = policy.datapath;
  const bgp = opts.bgp === false ? undefined : new BgpFeature(ctx, opts.bgp ?? {});
  const pinDir = datapath.enforcing && "pinDir" in datapath ? String(datapath.pinDir) : undefined;
  return [
    policy,
    // Right after policy, and it refuses a state it cannot write: CNI ADD waits for an applied
    // state holding the pod, so a selected pod's steering is in the kernel before ADD returns.
    new EgressFeature(ctx, {
      pinDir,
      ...(datapath instanceof EbpfDatapath ? { setUplinks: (names) => datapath.setUplinks(names) } : {}),
    }),
    // After policy: its endpoint hook has attached the programs the redirect map steers.
    new DnsFeature(ctx, {
      pinDir,
      claimIpcache: (claims) => policy.claimIpcache("dns-proxy", claims),
      adoptIpcacheClaims: (claims) => policy.adoptIpcacheClaims("dns-proxy", claims),
    }),
    ...(bgp ? [bgp] : []),
    // After BGP: imports its received VPN routes into the VRFs' SRv6 policies, exports the VRFs' routes.
    new Srv6Feature(ctx, {
      pinDir,
      vpnRoutes: () => bgp?.controller?.vpnRoutes() ?? [],
      onRoutesChanged: (l) => bgp?.controller?.onRoutesChanged(l),
      exportRoutes: async (routes) => bgp?.controller?.setRoutes("srv6", routes),
    }),
    new RoutingFeature(ctx),
  ];
}

/** The subsystems' commands and `status` rows, in the same order. */
export const FEATURE_CLIS: readonly FeatureCli[] = [
  policyCli,
  egressCli,
  dnsCli,
  bgpCli,
  srv6Cli,
  routingCli,
];
