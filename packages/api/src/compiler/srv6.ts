// SRv6: each node's locator carved from a pool by the node's index among the pool's nodes (sorted
// by name), one End.DT* SID per VRF whose function bits are the VRF ID, VRF membership of local pods.
import { formatIp, parseCidr, selectorMatches } from "../spec";
import { byText } from "./hash";
import { endpointLabels } from "./selection";
import type { ClusterSnapshot, SnapshotSrv6LocatorPool } from "./snapshot";
import type { CompileProblem, Srv6LocatorState, Srv6PolicyState, Srv6VrfState } from "./types";

interface NodeLocator {
  state: Srv6LocatorState;
  network: bigint;
}

export function nodeLocator(
  snapshot: ClusterSnapshot,
  pool: SnapshotSrv6LocatorPool,
  nodeName: string,
): NodeLocator | { problem: string } | undefined {
  const members = snapshot.nodes
    .filter((n) => selectorMatches(pool.spec.nodeSelector ?? {}, n.labels))
    .map((n) => n.name)
    .sort(byText);
  const index = members.indexOf(nodeName);
  if (index < 0) return undefined;
  const prefix = parseCidr(pool.spec.prefix)!;
  const nodeBits = pool.spec.locatorLength - prefix.prefixLength;
  if (BigInt(index) >= 1n << BigInt(nodeBits)) {
    return {
      problem: `pool ${pool.name} has room for ${2 ** nodeBits} locators; node ${nodeName} is number ${index + 1}`,
    };
  }
  const network = prefix.network | (BigInt(index) << BigInt(128 - pool.spec.locatorLength));
  return {
    network,
    state: {
      pool: pool.name,
      locator: `${formatIp(6, network)}/${pool.spec.locatorLength}`,
      structure: { ...pool.spec.structure },
    },
  };
}

export interface Srv6Compiled {
  locators: Srv6LocatorState[];
  vrfs: Srv6VrfState[];
  policies: Srv6PolicyState[];
  problems: CompileProblem[];
}

/** VRFs the node serves: it has a locator from the VRF's pool and at least one local member pod. */
export function compileSrv6(snapshot: ClusterSnapshot, nodeName: string): Srv6Compiled {
  const problems: CompileProblem[] = [];
  const locators = new Map<string, NodeLocator>();
  for (const pool of [...snapshot.srv6LocatorPools].sort((a, b) => byText(a.name, b.name))) {
    const result = nodeLocator(snapshot, pool, nodeName);
    if (result && "problem" in result)
      problems.push({ area: "srv6", object: pool.name, message: result.problem });
    else if (result) locators.set(pool.name, result);
  }
  const localEndpoints = snapshot.endpoints.filter((ep) => ep.node === nodeName);
  const vrfs: Srv6VrfState[] = [];
  for (const vrf of [...snapshot.srv6Vrfs].sort(
    (a, b) => a.spec.vrfID - b.spec.vrfID || byText(a.name, b.name),
  )) {
    const locator = locators.get(vrf.spec.locatorPool);
    const members = localEndpoints
      .filter((ep) => selectorMatches(vrf.spec.memberSelector, endpointLabels(ep)))
      .map((ep) => ep.id)
      .sort(byText);
    if (!locator || members.length === 0) continue;
    const { functionLength } = locator.state.structure;
    if (BigInt(vrf.spec.vrfID) >= 1n << BigInt(functionLength)) {
      problems.push({
        area: "srv6",
        object: vrf.name,
        message: `vrfID ${vrf.spec.vrfID} does not fit the ${functionLength}-bit function field of pool ${vrf.spec.locatorPool}`,
      });
      continue;
    }
    const shift = BigInt(
      128 -
        locator.state.structure.locatorBlockLength -
        locator.state.structure.locatorNodeLength -
        functionLength,
    );
    const sid = formatIp(6, locator.network | (BigInt(vrf.spec.vrfID) << shift));
    vrfs.push({
      name: vrf.name,
      vrfID: vrf.spec.vrfID,
      behavior: vrf.spec.behavior,
      encapMode: vrf.spec.encapMode,
      sid,
      ...(vrf.spec.routeDistinguisher ? { routeDistinguisher: vrf.spec.routeDistinguisher } : {}),
      importRouteTargets: [...vrf.spec.importRouteTargets].sort(byText),
      exportRouteTargets: [...vrf.spec.exportRouteTargets].sort(byText),
      memberEndpoints: members,
    });
  }
  const served = new Map(vrfs.map((v) => [v.name, v]));
  const policies = snapshot.srv6Policies
    .filter((p) => served.has(p.spec.vrf))
    .map((p) => ({
      name: p.name,
      vrf: p.spec.vrf,
      vrfID: served.get(p.spec.vrf)!.vrfID,
      destination: p.spec.destination,
      segments: [...p.spec.segments],
    }))
    .sort((a, b) => byText(a.name, b.name));
  return { locators: [...locators.values()].map((l) => l.state), vrfs, policies, problems };
}
