// CNI specification types and rules (SPEC.md, spec-v1.0.0 with STATUS from v1.1.0).
import { z } from "zod";

/** Well-known error codes (SPEC.md "Error"); 100+ are plugin-specific. */
export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  LimitedConnectivity: 51,
  /** Meridian: the kernel does not match what ADD set up (CHECK). */
  CheckFailed: 100,
  /** Meridian: the node's PodCIDRs have no free address. */
  IpamExhausted: 101,
  /** Meridian: anything else the agent failed at. */
  Internal: 999,
} as const;

export const SUPPORTED_VERSIONS = ["0.4.0", "1.0.0", "1.1.0"] as const;
export const LATEST_VERSION = "1.1.0";

export class CniError extends Error {
  constructor(
    readonly code: number,
    msg: string,
    readonly details?: string,
  ) {
    super(msg);
    this.name = "CniError";
  }
  toJSON(cniVersion: string = LATEST_VERSION): CniErrorResult {
    return {
      cniVersion,
      code: this.code,
      msg: this.message,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export interface CniErrorResult {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export const networkConfigSchema = z
  .object({
    cniVersion: z.string({ error: "is required (a CNI version string such as 1.0.0)" }),
    name: z.string({ error: "is required (the network name)" }).min(1, "must not be empty"),
    type: z.string({ error: "is required (the plugin binary name)" }).min(1, "must not be empty"),
    /** Meridian: the agent's unix socket (default /run/meridian/agent.sock). */
    agentSocket: z.string().min(1).optional(),
    mtu: z.number().int().min(1280).max(65535).optional(),
    runtimeConfig: z
      .object({ labels: z.record(z.string(), z.string()).optional() })
      .loose()
      .optional(),
    args: z
      .object({
        cni: z
          .object({ labels: z.array(z.object({ key: z.string(), value: z.string() })).optional() })
          .loose()
          .optional(),
      })
      .loose()
      .optional(),
    prevResult: z.unknown().optional(),
    /** GC (CNI 1.1): the attachments the runtime still knows; every other one is collected. */
    "cni.dev/valid-attachments": z
      .array(z.object({ containerID: z.string().min(1), ifname: z.string().min(1) }).loose())
      .optional(),
  })
  .loose();
export type NetworkConfig = z.infer<typeof networkConfigSchema>;

export function describeZodError(prefix: string, err: z.ZodError): string {
  return `${prefix}: ${err.issues
    .map((i) => `${i.path.length ? i.path.join(".") : "(root)"} ${i.message}`)
    .join("; ")}`;
}

/** CNI_ARGS: `K=V;K2=V2`. */
export function parseCniArgs(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const pair of raw.split(";")) {
    if (!pair) continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CniError(CniCode.InvalidEnvironment, `CNI_ARGS: "${pair}" is not KEY=VALUE`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** Meridian's label extension in CNI_ARGS: `MERIDIAN_LABELS=app=web,tier=db` (`;` separates CNI_ARGS). */
export function parseLabelList(raw: string, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of raw.split(",")) {
    if (!item) continue;
    const eq = item.indexOf("=");
    if (eq <= 0) throw new CniError(CniCode.InvalidEnvironment, `${field}: "${item}" is not key=value`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export function checkContainerId(id: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) {
    throw new CniError(
      CniCode.InvalidEnvironment,
      `CNI_CONTAINERID "${id}" is invalid: it must start with a letter or digit and contain only letters, digits, _ . -`,
    );
  }
}

export function checkIfname(name: string): void {
  if (!name || name.length > 15 || name === "." || name === ".." || /[/:\s]/.test(name)) {
    throw new CniError(
      CniCode.InvalidEnvironment,
      `CNI_IFNAME "${name}" is invalid: at most 15 characters, no "/", ":" or whitespace, not "." or ".."`,
    );
  }
}

export function versionSupported(v: string): boolean {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** What the agent returns for ADD (and the runtime caches as prevResult). */
export interface CniResult {
  cniVersion: string;
  interfaces: { name: string; mac: string; sandbox?: string }[];
  ips: { address: string; gateway?: string; interface?: number; version?: "4" | "6" }[];
  routes: { dst: string; gw?: string }[];
  dns: Record<string, unknown>;
}
