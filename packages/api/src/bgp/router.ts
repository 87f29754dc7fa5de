// BGP instances, peers and advertisements. Peer MD5 passwords are stored encrypted and only
// ever read back as `hasPassword`; the agent gets them decrypted in its desired state.

import {
  bgpAdvertisementSpecSchema,
  bgpInstanceSpecSchema,
  bgpPeerPublicSpecSchema,
  bgpPeerSpecSchema,
  lookingGlassInput,
  lookingGlassOutput,
} from "@meridian/model";
import { decryptSecret, encryptSecret } from "../auth/secret-box";
import { fieldError } from "../errors";
import { defineResource } from "../resources/define";
import { createTRPCRouter, viewerProcedure } from "../trpc";
import { readLookingGlass } from "./looking-glass";
import { loadPeerWorld, peerProblem } from "./peer-checks";

function sameSecret(box: string, plaintext: string): boolean {
  try {
    return decryptSecret(box) === plaintext;
  } catch {
    // Unreadable (e.g. the key changed): store the new one.
    return false;
  }
}

export const bgpInstancesRouter = defineResource({
  entityType: "BgpInstance",
  cilium: true,
  label: "BGP instance",
  path: "bgp/instances",
  tag: "bgp",
  delegate: (tx) => tx.bgpInstance,
  spec: bgpInstanceSpecSchema,
  hasEnabled: true,
});

export const bgpPeersRouter = defineResource({
  entityType: "BgpPeer",
  dependsOn: ["BgpInstance"],
  cilium: true,
  label: "BGP peer",
  path: "bgp/peers",
  tag: "bgp",
  delegate: (tx) => tx.bgpPeer,
  spec: bgpPeerSpecSchema,
  outputSpec: bgpPeerPublicSpecSchema,
  hasEnabled: true,
  columns: (spec) => ({ instanceName: spec.instance }),
  toStored: (spec, before) => {
    const { password, ...rest } = spec;
    // An edit without a password keeps the one already set (the UI never has it to send back);
    // the same password sent again keeps its ciphertext, so its version and the session stay.
    const current = (before?.passwordCiphertext as string | null) ?? null;
    const passwordCiphertext = password
      ? current && sameSecret(current, password)
        ? current
        : encryptSecret(password)
      : current;
    return { spec: rest, extra: { passwordCiphertext } };
  },
  present: (row) => ({ ...(row.spec as object), hasPassword: Boolean(row.passwordCiphertext) }),
  validate: async (tx, spec, self) => {
    const world = await loadPeerWorld(tx);
    const problem = peerProblem(
      spec,
      self.name,
      world.peers.filter((p) => p.id !== self.id),
      world,
    );
    if (problem) throw fieldError(problem.path, problem.message);
  },
});

export const bgpAdvertisementsRouter = defineResource({
  entityType: "BgpAdvertisement",
  // VRF routes name SRv6 VRFs; peers are chosen by name or selector.
  dependsOn: ["BgpPeer", "Srv6Vrf"],
  cilium: true,
  label: "BGP advertisement",
  path: "bgp/advertisements",
  tag: "bgp",
  delegate: (tx) => tx.bgpAdvertisement,
  spec: bgpAdvertisementSpecSchema,
  hasEnabled: true,
});

export const bgpRouter = createTRPCRouter({
  instances: bgpInstancesRouter,
  peers: bgpPeersRouter,
  advertisements: bgpAdvertisementsRouter,
  /**
   * One peer's routes on one node as its agent last reported them: received or advertised, one
   * family, filtered by prefix text, a page at a time. `total` counts the agent's whole table;
   * `reported` what it sent (the first LOOKING_GLASS_ROUTE_LIMIT by prefix).
   */
  lookingGlass: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/bgp/looking-glass", tags: ["bgp"] } })
    .input(lookingGlassInput)
    .output(lookingGlassOutput)
    .query(({ ctx, input }) => readLookingGlass(ctx.db, input)),
});
