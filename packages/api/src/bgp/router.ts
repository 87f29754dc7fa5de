// BGP instances, peers and advertisements. Peer MD5 passwords are stored encrypted and only
// ever read back as `hasPassword`; the agent gets them decrypted in its desired state.
import { encryptSecret } from "../auth/secret-box";
import { fieldError } from "../errors";
import { defineResource } from "../resources/define";
import {
  bgpAdvertisementSpecSchema,
  bgpInstanceSpecSchema,
  bgpPeerPublicSpecSchema,
  bgpPeerSpecSchema,
} from "../spec";
import { createTRPCRouter } from "../trpc";

export const bgpInstancesRouter = defineResource({
  entityType: "BgpInstance",
  label: "BGP instance",
  path: "bgp/instances",
  tag: "bgp",
  delegate: (tx) => tx.bgpInstance,
  spec: bgpInstanceSpecSchema,
  hasEnabled: true,
});

export const bgpPeersRouter = defineResource({
  entityType: "BgpPeer",
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
    // An edit without a password keeps the one already set (the UI never has it to send back).
    const passwordCiphertext = password
      ? encryptSecret(password)
      : ((before?.passwordCiphertext as string | null) ?? null);
    return { spec: rest, extra: { passwordCiphertext } };
  },
  present: (row) => ({ ...(row.spec as object), hasPassword: Boolean(row.passwordCiphertext) }),
  validate: async (tx, spec) => {
    const instance = await tx.bgpInstance.findUnique({ where: { name: spec.instance } });
    if (!instance) throw fieldError(["spec", "instance"], `no BGP instance named ${spec.instance}`);
  },
});

export const bgpAdvertisementsRouter = defineResource({
  entityType: "BgpAdvertisement",
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
});
