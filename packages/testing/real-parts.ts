// Suites that need real parts (root, the native addon, FRR, GoBGP, BIRD, PostgreSQL, the eBPF
// datapath) declare them here. Outside CI a missing part skips the suite quietly, as a developer's
// laptop may lack FRR; on CI (CI=true, or MERIDIAN_REQUIRE_REAL_PARTS=1) it fails the suite and
// names what is missing, so a green run always means the real parts were exercised.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Something a suite needs; `missing` answers why it cannot be had here, or null when it can. */
export interface RealPart {
  name: string;
  missing(): string | null;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The path @meridian/native loads (native/index.ts `addonPath`), without loading it. */
export const NATIVE_ADDON = path.join(repoRoot, "native", "build", "Release", "meridian_native.node");

/** A part that is there when all of `paths` exist; `hint` says how to get it. */
export function filesPart(name: string, paths: string[], hint: string): RealPart {
  return {
    name,
    missing: () => {
      const absent = paths.filter((p) => !existsSync(p));
      return absent.length === 0 ? null : `${absent.join(", ")} not found (${hint})`;
    },
  };
}

export const parts = {
  root: {
    name: "root",
    missing: () =>
      process.getuid?.() === 0 ? null : "not running as root (network namespaces, BPF and routes need it)",
  } satisfies RealPart,
  nativeAddon: filesPart(
    "native addon",
    [NATIVE_ADDON],
    "run `npm run build -w @meridian/native`, or `node scripts/setup.mjs`",
  ),
  frr: filesPart("FRR", ["/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "/usr/bin/vtysh"], "apt-get install frr"),
  gobgp: filesPart("GoBGP", ["/usr/bin/gobgpd", "/usr/bin/gobgp"], "apt-get install gobgpd"),
  bird: filesPart("BIRD", ["/usr/sbin/bird", "/usr/sbin/birdc"], "apt-get install bird2"),
  dnsmasq: filesPart("dnsmasq", ["/usr/sbin/dnsmasq"], "apt-get install dnsmasq"),
  dnsperf: filesPart("dnsperf", ["/usr/bin/dnsperf"], "apt-get install dnsperf"),
  database: {
    name: "PostgreSQL",
    missing: () =>
      process.env.MERIDIAN_TEST_SERVER_URL || process.env.DATABASE_URL
        ? null
        : "neither MERIDIAN_TEST_SERVER_URL nor DATABASE_URL is set (`npm test` starts one)",
  } satisfies RealPart,
};

/** A part decided by the caller's own probe, e.g. `ebpfUnsupportedReason()` of the agent. */
export function part(name: string, missing: () => string | null): RealPart {
  return { name, missing };
}

/** True when a missing real part must fail the run rather than skip (CI, or asked for). */
export function realPartsRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = (env.CI ?? "").toLowerCase();
  return env.MERIDIAN_REQUIRE_REAL_PARTS === "1" || ci === "true" || ci === "1";
}

export class MissingRealPartsError extends Error {
  constructor(
    readonly suite: string,
    readonly missing: { name: string; reason: string }[],
  ) {
    super(
      `${suite} needs real parts that are missing here: ${missing.map((m) => `${m.name} (${m.reason})`).join("; ")}. ` +
        "On CI (CI=true or MERIDIAN_REQUIRE_REAL_PARTS=1) such a suite fails instead of skipping.",
    );
    this.name = "MissingRealPartsError";
  }
}

/**
 * What is missing for `suite`. Empty: run it. Otherwise, where real parts are required this
 * throws MissingRealPartsError (at import, so vitest reports the file failed with the message);
 * elsewhere it returns the list, and `skip` is true.
 */
export function needs(
  suite: string,
  required: RealPart[],
  env: NodeJS.ProcessEnv = process.env,
): { skip: boolean; missing: { name: string; reason: string }[] } {
  const missing = required.flatMap((p) => {
    const reason = p.missing();
    return reason === null ? [] : [{ name: p.name, reason }];
  });
  if (missing.length > 0 && realPartsRequired(env)) throw new MissingRealPartsError(suite, missing);
  return { skip: missing.length > 0, missing };
}
