// Kubernetes Services as far as Meridian needs them: labels and VIPs to advertise over BGP.

import { ipAddressSchema, labelsSchema, list, MAX_ITEMS } from "@meridian/model";
import { z } from "zod";
import { defineResource } from "../resources/define";

export const serviceSpecSchema = z.strictObject({
  type: z.enum(["ClusterIP", "NodePort", "LoadBalancer"]).default("ClusterIP"),
  labels: labelsSchema.default({}),
  clusterIPs: z.array(ipAddressSchema).max(2).default([]),
  loadBalancerIPs: list(ipAddressSchema, MAX_ITEMS.small, "load balancer IPs").default([]),
  externalIPs: list(ipAddressSchema, MAX_ITEMS.small, "external IPs").default([]),
});
export type ServiceSpec = z.infer<typeof serviceSpecSchema>;

export const servicesRouter = defineResource({
  entityType: "Service",
  label: "service",
  path: "services",
  tag: "services",
  delegate: (tx) => tx.service,
  spec: serviceSpecSchema,
  namespaced: true,
});
