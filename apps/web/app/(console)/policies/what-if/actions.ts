"use server";
// What-if is the API's policies.whatIf: the same compiler the nodes' state comes from, with the
// API's validation and roles. This action only turns the form into its input and its field
// errors back into the form's fields.
import type { AppRouter } from "@meridian/api";
import type { inferRouterOutputs } from "@trpc/server";
import { TRPCError } from "@trpc/server";
import { serverCaller } from "@/server/caller";

export interface WhatIfForm {
  source: string;
  destKind: "endpoint" | "ip" | "fqdn";
  destination: string;
  port: number;
  protocol: "TCP" | "UDP" | "SCTP" | "ICMP" | "ICMPv6";
}

type WhatIfOutput = inferRouterOutputs<AppRouter>["policies"]["whatIf"];

export type WhatIfAnswer =
  | { ok: true; result: WhatIfOutput; revision: number; names: Record<string, string> }
  | { ok: false; error: string; field?: "source" | "destination" | "port" };

/** `namespace/name` as the API's endpoint reference, or null. */
function endpointRef(text: string): { namespace: string; name: string } | null {
  const [namespace, name, ...rest] = text.trim().split("/");
  return namespace && name && rest.length === 0 ? { namespace, name } : null;
}

function fieldOf(key: string): "source" | "destination" | "port" | undefined {
  const top = key.split(".")[0];
  return top === "source" || top === "destination" || top === "port" ? top : undefined;
}

export async function askWhatIf(form: WhatIfForm): Promise<WhatIfAnswer> {
  const source = endpointRef(form.source);
  if (!source)
    return { ok: false, error: `no endpoint "${form.source}" (write namespace/name)`, field: "source" };
  let destination: { endpoint: { namespace: string; name: string } } | { ip: string } | { fqdn: string };
  if (form.destKind === "endpoint") {
    const ref = endpointRef(form.destination);
    if (!ref)
      return {
        ok: false,
        error: `no endpoint "${form.destination}" (write namespace/name)`,
        field: "destination",
      };
    destination = { endpoint: ref };
  } else if (form.destKind === "ip") destination = { ip: form.destination.trim() };
  else destination = { fqdn: form.destination.trim() };
  try {
    const api = await serverCaller();
    const result = await api.policies.whatIf({
      source,
      destination,
      port: form.port,
      protocol: form.protocol,
    });
    return { ok: true, result, revision: result.revision, names: result.names };
  } catch (err) {
    if (err instanceof TRPCError && err.code === "UNAUTHORIZED") return { ok: false, error: "sign in first" };
    const fields = (err as { cause?: { issues?: { path: (string | number)[]; message: string }[] } }).cause
      ?.issues;
    const first = fields?.[0];
    if (first) return { ok: false, error: first.message, field: fieldOf(first.path.map(String).join(".")) };
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
