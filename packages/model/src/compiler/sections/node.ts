// The `node` section: the node itself as the control plane describes it (labels, addresses,
// PodCIDRs), read by every agent subsystem.
import { z } from "zod";
import { byText } from "../hash";
import { defineSection } from "./section";

const labels = z.record(z.string(), z.string());

export const nodeSection = defineSection({
  name: "node",
  keys: ["node"],
  schema: z.strictObject({
    node: z.strictObject({
      name: z.string(),
      labels,
      /** Interface addresses with prefix length, sorted. */
      addresses: z.array(z.string()),
      podCIDRs: z.array(z.string()),
    }),
  }),
  compile: ({ node }) => ({
    node: {
      name: node.name,
      labels: { ...node.labels },
      addresses: [...node.addresses].sort(byText),
      podCIDRs: [...node.podCIDRs].sort(byText),
    },
  }),
});
