// DNS name and name-pattern rules shared by validation, the compiler and the DNS proxy,
// so that a pattern accepted by the API is matched the same way on the node.

export const MAX_NAME_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;

const LABEL_CHARS = /^[a-z0-9_-]+$/;
const PATTERN_LABEL_CHARS = /^[a-z0-9_*-]+$/;

/** Lower-cases and drops one trailing dot: DNS names compare case-insensitively. */
export function normalizeDnsName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

function checkLength(name: string): string | undefined {
  if (name.length === 0) return "name is empty";
  if (name.length > MAX_NAME_LENGTH) {
    return `name is ${name.length} characters long; DNS names are at most ${MAX_NAME_LENGTH}`;
  }
  return undefined;
}

function checkLabel(label: string, chars: RegExp, what: string): string | undefined {
  if (label.length === 0) return "empty label (two dots in a row, or a leading dot)";
  if (label.length > MAX_LABEL_LENGTH) {
    return `label "${label.slice(0, 20)}…" is ${label.length} characters long; DNS labels are at most ${MAX_LABEL_LENGTH}`;
  }
  if (!chars.test(label))
    return `label "${label}" has characters not allowed in ${what} (use a-z, 0-9, "-", "_")`;
  if (label.startsWith("-") || label.endsWith("-")) return `label "${label}" starts or ends with "-"`;
  return undefined;
}

/** Why `name` is not a valid DNS name for `matchName`, or undefined if it is. */
export function dnsNameProblem(raw: string): string | undefined {
  const name = normalizeDnsName(raw);
  const lengthProblem = checkLength(name);
  if (lengthProblem) return lengthProblem;
  if (name.includes("*")) return `"*" is only allowed in matchPattern, not matchName`;
  for (const label of name.split(".")) {
    const problem = checkLabel(label, LABEL_CHARS, "a DNS name");
    if (problem) return problem;
  }
  return undefined;
}

/**
 * Why `pattern` is not a valid `matchPattern`, or undefined if it is.
 * `*` as a whole label matches exactly one label, `*` inside a label matches characters within that
 * label, a leading `**.` matches one or more labels at any depth, and a lone `*` matches every name.
 */
export function dnsPatternProblem(raw: string): string | undefined {
  const pattern = normalizeDnsName(raw);
  const lengthProblem = checkLength(pattern);
  if (lengthProblem) return lengthProblem;
  if (pattern === "*") return undefined;
  const labels = pattern.split(".");
  for (const [index, label] of labels.entries()) {
    if (label === "**") {
      if (index !== 0) return `"**" is only allowed as the first label ("**.example.com")`;
      if (labels.length < 2) return `"**" must be followed by a domain ("**.example.com")`;
      continue;
    }
    if (label.includes("**"))
      return `"**" must be a whole label at the start ("**.example.com"), not inside "${label}"`;
    const problem = checkLabel(label, PATTERN_LABEL_CHARS, "a DNS pattern");
    if (problem) return problem;
  }
  return undefined;
}

const LABEL_BODY = "[a-z0-9_-]";

/** Compiles a valid pattern (or plain name) into an anchored regular expression over normalized names. */
export function dnsPatternToRegExp(raw: string): RegExp {
  const pattern = normalizeDnsName(raw);
  if (pattern === "*") return new RegExp(`^${LABEL_BODY}+(\\.${LABEL_BODY}+)*$`);
  const parts = pattern.split(".").map((label, index) => {
    if (label === "**" && index === 0) return `${LABEL_BODY}+(\\.${LABEL_BODY}+)*`;
    if (label === "*") return `${LABEL_BODY}+`;
    // Valid labels hold only a-z, 0-9, "-", "_" and "*", none of which needs escaping outside a class.
    return label.split("*").join(`${LABEL_BODY}*`);
  });
  return new RegExp(`^${parts.join("\\.")}$`);
}

/** True when `name` is matched by the pattern (or equals the plain name), case-insensitively. */
export function dnsNameMatches(pattern: string, name: string): boolean {
  return dnsPatternToRegExp(pattern).test(normalizeDnsName(name));
}
