// CiliumEgressGatewayPolicy spec → Meridian EgressGatewayPolicySpec input.
import { ADVERTISE_EGRESS_IP_ANNOTATION, EGRESS_HA_ANNOTATION, ENABLED_ANNOTATION } from "./annotations";
import { asArray, isObject, type Json, type JsonObject, type Reporter } from "./walk";

function importGateway(gw: Json, path: string, r: Reporter): JsonObject | undefined {
  if (!isObject(gw)) return undefined;
  return r.pick(gw, path, ["nodeSelector", "egressIP", "interface"]);
}

export function importEgressSpec(
  spec: JsonObject,
  annotations: JsonObject,
  path: string,
  r: Reporter,
): JsonObject {
  const out = r.pick(spec, path, [
    "selectors",
    "destinationCIDRs",
    "excludedCIDRs",
    "egressGateway",
    "egressGateways",
  ]);
  const gateways: Json[] = [];
  if (out.egressGateway !== undefined) {
    const gw = importGateway(out.egressGateway, `${path}.egressGateway`, r);
    if (gw) gateways.push(gw);
  }
  asArray(out.egressGateways).forEach((g, i) => {
    const gw = importGateway(g, `${path}.egressGateways[${i}]`, r);
    if (gw) gateways.push(gw);
  });
  delete out.egressGateway;
  delete out.egressGateways;
  out.gateways = gateways;
  out.selectors = asArray(out.selectors).map((sel, i) =>
    isObject(sel)
      ? r.pick(sel, `${path}.selectors[${i}]`, ["podSelector", "namespaceSelector", "nodeSelector"])
      : sel,
  );
  const ha = annotations[EGRESS_HA_ANNOTATION];
  if (typeof ha === "string") {
    try {
      out.ha = JSON.parse(ha) as Json;
    } catch {
      r.report(`metadata.annotations.${EGRESS_HA_ANNOTATION}`, "not valid JSON; default HA settings used");
    }
  }
  if (annotations[ADVERTISE_EGRESS_IP_ANNOTATION] === "true") out.advertiseEgressIP = true;
  if (annotations[ENABLED_ANNOTATION] === "false") out.enabled = false;
  return out;
}
