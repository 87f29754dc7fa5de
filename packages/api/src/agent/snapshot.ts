// Reads the whole model at one revision for the compiler. One REPEATABLE READ transaction, so
// the revision number and the rows belong together.
import type { Db } from "@meridian/db";
import type {
  ClusterSnapshot,
  EndpointPort,
  Labels,
  NetworkPolicySpec,
  SnapshotEndpoint,
  SnapshotPolicy,
} from "@meridian/model";
import { planSrv6Allocations } from "@meridian/model";
import { secretVersion } from "../auth/secret-box";
import type { ServiceSpec } from "../services/router";
import { ensureSrv6Allocations, srv6AllocationQueries, srv6AllocationsFromRows } from "../srv6/allocations";

/** A stored policy row as the compiler sees it: namespace "" is a cluster-wide policy (null). */
export function snapshotPolicy(p: {
  id: string;
  name: string;
  namespace: string;
  enabled: boolean;
  version: number;
  spec: unknown;
}): SnapshotPolicy {
  return {
    id: p.id,
    name: p.name,
    namespace: p.namespace === "" ? null : p.namespace,
    enabled: p.enabled,
    version: p.version,
    spec: p.spec as NetworkPolicySpec,
  };
}

/** A stored endpoint row (with its node's name) as the compiler sees it. */
export function snapshotEndpoint(e: {
  id: string;
  node: string;
  namespace: string;
  name: string;
  labels: unknown;
  ipv4?: string | null;
  ipv6?: string | null;
  ports?: unknown;
  identityNumber: number;
}): SnapshotEndpoint {
  return {
    id: e.id,
    node: e.node,
    namespace: e.namespace,
    name: e.name,
    labels: (e.labels ?? {}) as Labels,
    ...(e.ipv4 ? { ipv4: e.ipv4 } : {}),
    ...(e.ipv6 ? { ipv6: e.ipv6 } : {}),
    ...(Array.isArray(e.ports) && e.ports.length > 0 ? { ports: e.ports as EndpointPort[] } : {}),
    identity: e.identityNumber,
  };
}

export async function loadSnapshot(db: Db): Promise<ClusterSnapshot> {
  // SRv6 locators and SIDs are allocated before the read, so the snapshot holds one for every node
  // and VRF it has; a node added between the two is caught below and the load repeated.
  for (let attempt = 1; ; attempt++) {
    await ensureSrv6Allocations(db);
    const snapshot = await readSnapshot(db);
    const missing = planSrv6Allocations({
      nodes: snapshot.nodes,
      pools: snapshot.srv6LocatorPools,
      vrfs: snapshot.srv6Vrfs,
      held: snapshot.srv6Allocations,
    });
    const complete =
      missing.add.locators.length === 0 && missing.add.sids.length === 0 && missing.releaseSids.length === 0;
    // After three tries the compiler reports what is still missing as a problem of the node.
    if (complete || attempt >= 3) return snapshot;
  }
}

async function readSnapshot(db: Db): Promise<ClusterSnapshot> {
  const [
    rev,
    inventory,
    nodes,
    endpoints,
    identities,
    policies,
    egress,
    instances,
    peers,
    ads,
    services,
    pools,
    vrfs,
    srv6Policies,
    srv6Locators,
    srv6Sids,
  ] = await db.$transaction(
    [
      db.revision.findFirst({ orderBy: { number: "desc" }, select: { number: true } }),
      db.inventoryGeneration.findUnique({ where: { id: 1 } }),
      db.node.findMany({ orderBy: { name: "asc" } }),
      db.endpoint.findMany({
        include: { node: { select: { name: true } } },
        orderBy: [{ namespace: "asc" }, { name: "asc" }],
      }),
      db.identity.findMany({ orderBy: { number: "asc" } }),
      db.networkPolicy.findMany({ orderBy: [{ namespace: "asc" }, { name: "asc" }] }),
      db.egressGatewayPolicy.findMany({ where: { enabled: true }, orderBy: { name: "asc" } }),
      db.bgpInstance.findMany({ where: { enabled: true }, orderBy: { name: "asc" } }),
      db.bgpPeer.findMany({ where: { enabled: true }, orderBy: { name: "asc" } }),
      db.bgpAdvertisement.findMany({ where: { enabled: true }, orderBy: { name: "asc" } }),
      db.service.findMany({ orderBy: [{ namespace: "asc" }, { name: "asc" }] }),
      db.srv6LocatorPool.findMany({ orderBy: { name: "asc" } }),
      db.srv6Vrf.findMany({ orderBy: { name: "asc" } }),
      db.srv6Policy.findMany({ orderBy: { name: "asc" } }),
      ...srv6AllocationQueries(db),
    ],
    // Under load (pod churn fills the pool) a connection can take a while: wait for one rather
    // than fail every subscriber's stream after the default 2 s.
    { isolationLevel: "RepeatableRead", maxWait: 15_000, timeout: 30_000 },
  );
  const obj = <S>(r: { id: string; name: string; version: number; spec: unknown }) => ({
    id: r.id,
    name: r.name,
    version: r.version,
    spec: r.spec as S,
  });
  return {
    revision: rev?.number ?? 0,
    inventory: inventory?.value ?? 0,
    nodes: nodes
      .filter((n) => n.joinState !== "revoked")
      .map((n) => ({
        name: n.name,
        labels: n.labels as Labels,
        addresses: n.addresses,
        podCIDRs: [...n.podCIDRv4, ...n.podCIDRv6],
      })),
    endpoints: endpoints.map((e) => snapshotEndpoint({ ...e, node: e.node.name })),
    identities: identities.map((i) => ({ id: i.number, labels: i.labels as Labels })),
    policies: policies.map(snapshotPolicy),
    egressPolicies: egress.map(obj) as ClusterSnapshot["egressPolicies"],
    bgpInstances: instances.map(obj) as ClusterSnapshot["bgpInstances"],
    // The key itself never enters the snapshot; the agent fetches it by reference.
    bgpPeers: peers.map((p) => ({
      ...obj(p),
      hasPassword: Boolean(p.passwordCiphertext),
      ...(p.passwordCiphertext
        ? { passwordRef: p.id, passwordVersion: secretVersion(p.passwordCiphertext) }
        : {}),
    })) as ClusterSnapshot["bgpPeers"],
    bgpAdvertisements: ads.map(obj) as ClusterSnapshot["bgpAdvertisements"],
    services: services.map((s) => {
      const spec = s.spec as ServiceSpec;
      return {
        namespace: s.namespace,
        name: s.name,
        labels: spec.labels ?? {},
        clusterIPs: spec.clusterIPs ?? [],
        loadBalancerIPs: spec.loadBalancerIPs ?? [],
        externalIPs: spec.externalIPs ?? [],
      };
    }),
    srv6LocatorPools: pools.map(obj) as ClusterSnapshot["srv6LocatorPools"],
    srv6Vrfs: vrfs.map(obj) as ClusterSnapshot["srv6Vrfs"],
    srv6Policies: srv6Policies.map(obj) as ClusterSnapshot["srv6Policies"],
    srv6Allocations: srv6AllocationsFromRows(srv6Locators, srv6Sids),
  };
}
