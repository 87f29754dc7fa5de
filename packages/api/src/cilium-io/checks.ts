// The cross-object checks `create` and `update` run (def.validate), for a whole import at once:
// what they read is read once, and each object is checked against it and against what the import
// decided before it (an instance created earlier in the same import, a peer address taken by an
// earlier peer), as if the objects were written one by one in order.

import type {
  BgpInstanceSpec,
  BgpPeerSpec,
  EgressGatewayPolicySpec,
  GatewayNodeCandidate,
} from "@meridian/model";
import { loadPeerWorld, type PeerWorld, peerProblem } from "../bgp/peer-checks";
import { egressPolicyProblems, loadGatewayNodes } from "../egress/service";
import type { FieldProblem } from "../errors";
import type { ResourceRow } from "../resources/define";
import type { Tx } from "../revisions/commit";
import type { ValidObject } from "./validate";

export class ImportChecks {
  private gatewayNodes: GatewayNodeCandidate[] = [];
  private peers: PeerWorld | null = null;
  /** Enabled peers by name, as the import has left them so far. */
  private peerByName = new Map<string, PeerWorld["peers"][number]>();

  private constructor(private readonly db: Tx) {}

  /** Reads what the checks of these objects need: nothing for kinds without checks. */
  static async load(db: Tx, objects: ValidObject[]): Promise<ImportChecks> {
    const checks = new ImportChecks(db);
    const kinds = new Set(objects.map((v) => v.obj.kind));
    if (kinds.has("EgressGatewayPolicy")) checks.gatewayNodes = await loadGatewayNodes(db);
    if (kinds.has("BgpPeer")) {
      checks.peers = await loadPeerWorld(db);
      checks.peerByName = new Map(checks.peers.peers.map((p) => [p.name, p]));
    }
    return checks;
  }

  /** What create or update would refuse in `v`, paths as def.validate gives them (`spec.address`). */
  async problems(v: ValidObject, before: ResourceRow | null): Promise<FieldProblem[]> {
    switch (v.obj.kind) {
      case "EgressGatewayPolicy":
        return egressPolicyProblems(v.spec as EgressGatewayPolicySpec, this.gatewayNodes);
      case "BgpPeer": {
        const world = this.peers!;
        const problem = peerProblem(v.spec as BgpPeerSpec, v.obj.name, [...this.peerByName.values()], world);
        return problem ? [problem] : [];
      }
      default:
        return v.def.validate ? this.validateOne(v, before) : [];
    }
  }

  /** `v` will be written: the objects after it are checked against it. */
  written(v: ValidObject, before: ResourceRow | null): void {
    if (v.obj.kind === "BgpInstance" && this.peers)
      this.peers.instances.set(v.obj.name, (v.spec as BgpInstanceSpec).nodeSelector);
    if (v.obj.kind === "BgpPeer") {
      const spec = v.spec as BgpPeerSpec;
      // An update keeps the row's enabled flag; a new peer is enabled.
      if (before?.enabled === false) return;
      this.peerByName.set(v.obj.name, {
        id: before?.id ?? null,
        name: v.obj.name,
        instance: spec.instance,
        address: spec.address,
      });
    }
  }

  /**
   * A kind whose check has no batched form here runs def.validate itself, one query or more per
   * object; every importable kind with a check has one above, so this is only for kinds to come.
   */
  private async validateOne(v: ValidObject, before: ResourceRow | null): Promise<FieldProblem[]> {
    try {
      await v.def.validate!(this.db, v.spec, {
        id: before?.id ?? null,
        name: v.obj.name,
        namespace: v.namespace,
      });
      return [];
    } catch (err) {
      const issues = (err as { cause?: { issues?: FieldProblem[] } }).cause?.issues;
      if (issues) return issues.map((i) => ({ path: i.path, message: i.message }));
      throw err;
    }
  }
}
