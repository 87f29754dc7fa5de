// Field schemas every Meridian object is built from. Each one explains a rejection in the terms
// a network engineer uses ("host bits set in …", "ASN must be 1..4294967295").
import { z } from "zod";
import { dnsNameProblem, dnsPatternProblem } from "./fqdn";
import { type IpFamily, parseCidr, parseIp } from "./ip";
import { MAX_TEXT } from "./limits";

type Check<T> = (value: T) => string | undefined;

/** Attaches a check that returns a reason (or undefined) to a schema, as one custom issue. */
function withCheck<S extends z.ZodType>(schema: S, check: Check<z.output<S>>): S {
  return schema.superRefine((value, ctx) => {
    const problem = check(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }) as unknown as S;
}

const familyName = (family?: IpFamily) => (family === 4 ? "IPv4 " : family === 6 ? "IPv6 " : "IP ");

function addressProblem(family?: IpFamily): Check<string> {
  return (text) => {
    const ip = parseIp(text);
    if (!ip) return `"${text}" is not a valid ${familyName(family)}address`;
    if (family && ip.family !== family)
      return `"${text}" is an IPv${ip.family} address; expected ${familyName(family)}`;
    return undefined;
  };
}

export function cidrProblem(text: string, family?: IpFamily): string | undefined {
  if (!text.includes("/")) return `"${text}" is not a CIDR: add a prefix length, e.g. "${text}/32"`;
  const cidr = parseCidr(text);
  if (!cidr) return `"${text}" is not a valid ${familyName(family)}CIDR (expected address/prefix-length)`;
  if (family && cidr.family !== family)
    return `"${text}" is an IPv${cidr.family} CIDR; expected ${familyName(family)}`;
  if (cidr.hostBitsSet) return `host bits set in ${text}, did you mean ${cidr.text}`;
  return undefined;
}

const addressText = () => z.string().max(MAX_TEXT.address, `at most ${MAX_TEXT.address} characters`);

export const ipAddressSchema = withCheck(addressText(), addressProblem());
export const ipv4AddressSchema = withCheck(addressText(), addressProblem(4));
export const ipv6AddressSchema = withCheck(addressText(), addressProblem(6));

export const cidrSchema = withCheck(addressText(), (v) => cidrProblem(v));
export const ipv4CidrSchema = withCheck(addressText(), (v) => cidrProblem(v, 4));
export const ipv6CidrSchema = withCheck(addressText(), (v) => cidrProblem(v, 6));

export const MAX_ASN = 4294967295;
const asnRange = {
  error: (issue: { input?: unknown }) =>
    `ASN ${String(issue.input)} is out of range: must be an integer 1..${MAX_ASN}`,
};
export const asnSchema = z
  .number({ error: "ASN must be a number" })
  .int(asnRange)
  .min(1, asnRange)
  .max(MAX_ASN, asnRange);

const portRange = {
  error: (issue: { input?: unknown }) => `port ${String(issue.input)} is out of range: must be 1..65535`,
};
export const portSchema = z
  .number({ error: "port must be a number" })
  .int(portRange)
  .min(1, portRange)
  .max(65535, portRange);

/** An inclusive port range; a single port has `end` equal to `start` or omitted. */
export const portRangeSchema = z
  .object({ start: portSchema, end: portSchema.optional() })
  .refine((r) => r.end === undefined || r.end >= r.start, {
    path: ["end"],
    error: (issue) => {
      const r = issue.input as { start: number; end: number };
      return `port range ${r.start}-${r.end} ends before it starts`;
    },
  });

const UINT16 = 65535;
const UINT32 = 4294967295;

function parseUint(text: string): number | undefined {
  return /^(0|[1-9]\d{0,9})$/.test(text) ? Number(text) : undefined;
}

/**
 * Why `text` is not an RD / RT in one of the three RFC 4364 forms, or undefined:
 * 2-byte ASN : 4-byte number, 4-byte ASN : 2-byte number, IPv4 address : 2-byte number.
 */
export function extendedCommunityValueProblem(text: string, what: string): string | undefined {
  const colon = text.lastIndexOf(":");
  const forms = `expected ASN:NN (e.g. 65000:100) or IPv4:NN (e.g. 192.0.2.1:100)`;
  if (colon < 0) return `${what} "${text}" is malformed; ${forms}`;
  const admin = text.slice(0, colon);
  const assigned = parseUint(text.slice(colon + 1));
  if (assigned === undefined)
    return `${what} "${text}": "${text.slice(colon + 1)}" is not a number; ${forms}`;
  if (admin.includes(".")) {
    const ip = parseIp(admin);
    if (ip?.family !== 4) return `${what} "${text}": "${admin}" is not an IPv4 address; ${forms}`;
    if (assigned > UINT16) return `${what} "${text}": with an IPv4 address the number must be 0..${UINT16}`;
    return undefined;
  }
  const asn = parseUint(admin);
  if (asn === undefined || asn > UINT32)
    return `${what} "${text}": "${admin}" is not an ASN (0..${UINT32}); ${forms}`;
  if (asn > UINT16 && assigned > UINT16) {
    return `${what} "${text}": with a 4-byte ASN (> ${UINT16}) the number must be 0..${UINT16}`;
  }
  if (assigned > UINT32) return `${what} "${text}": with a 2-byte ASN the number must be 0..${UINT32}`;
  return undefined;
}

export const routeDistinguisherSchema = withCheck(z.string().max(32), (v) =>
  extendedCommunityValueProblem(v, "route distinguisher"),
);
export const routeTargetSchema = withCheck(z.string().max(32), (v) =>
  extendedCommunityValueProblem(v, "route target"),
);

// Far above the 253 a name may be, so that the check says how long it is and what the limit is;
// the schema's own maximum only stops what no one would type.
const DNS_TEXT = 1024;
export const dnsNameSchema = withCheck(z.string().max(DNS_TEXT), dnsNameProblem);
export const dnsPatternSchema = withCheck(z.string().max(DNS_TEXT), dnsPatternProblem);

/** Exactly one of matchName / matchPattern, as in Cilium's FQDNSelector. */
// Strict: a misspelt `matchPatern` is an error naming it, not a selector without its pattern.
export const fqdnSelectorSchema = z
  .strictObject({ matchName: dnsNameSchema.optional(), matchPattern: dnsPatternSchema.optional() })
  .refine((s) => (s.matchName === undefined) !== (s.matchPattern === undefined), {
    error: "set exactly one of matchName or matchPattern",
  });
export type FqdnSelector = z.infer<typeof fqdnSelectorSchema>;

/** Object names as Kubernetes writes them (DNS-1123 subdomain). */
export const objectNameSchema = withCheck(
  z.string().max(MAX_TEXT.name, "name must be 1 to 253 characters"),
  (name) => {
    if (name.length === 0 || name.length > 253) return "name must be 1 to 253 characters";
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) {
      return `name "${name}" must be lower-case letters, digits, "-" or ".", starting and ending with a letter or digit`;
    }
    return undefined;
  },
);

export interface SpecIssue {
  /** Dotted path with indexes, e.g. `ingress[0].toPorts[0].ports[0].port`. */
  field: string;
  message: string;
}

export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out.length === 0 ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Flattens a ZodError into field + reason pairs for API errors and console forms. */
export function specIssues(error: z.ZodError): SpecIssue[] {
  return error.issues.map((issue) => ({ field: formatFieldPath(issue.path), message: issue.message }));
}
