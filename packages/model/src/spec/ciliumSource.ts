// Where an object imported from Cilium YAML came from, so that an export writes it back as the
// same document: under its own name, with its labels, and grouped as it was. Cilium users apply
// exports with kubectl; an export under other names would add objects beside the originals.
import { z } from "zod";
import { objectNameSchema } from "./common";
import { labelsSchema } from "./labels";
import { MAX_ITEMS } from "./limits";

/**
 * The document an object was made from: its `metadata.name`, and where one document made several
 * objects (a policy's `specs` list, a cluster config's `bgpInstances`, an advertisement's list) the
 * object's position in it.
 */
export const ciliumSourceSchema = z.strictObject({
  name: objectNameSchema,
  /** The position in the document's list (a policy's `spec` first, then `specs`); absent: the only one. */
  part: z.number().int().min(0).max(MAX_ITEMS.rules).optional(),
  /** The document's `metadata.labels`, which Meridian does not use but Cilium users select on. */
  labels: labelsSchema.optional(),
});
export type CiliumSource = z.infer<typeof ciliumSourceSchema>;
