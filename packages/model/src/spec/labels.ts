// Kubernetes-style labels and label selectors, with the matching rule used everywhere a selector
// picks endpoints, nodes, services or peers.
import { z } from "zod";
import { list, MAX_ITEMS } from "./limits";

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
/** Cilium writes label keys with a source, e.g. `k8s:app`; `k8s` and `any` mean the same for us. */
const LABEL_SOURCE = /^(k8s|any|reserved|cidr|fqdn|container|unspec):/;

function labelKeyProblem(key: string): string | undefined {
  const withoutSource = key.replace(LABEL_SOURCE, "");
  const slash = withoutSource.lastIndexOf("/");
  const prefix = slash >= 0 ? withoutSource.slice(0, slash) : undefined;
  const name = slash >= 0 ? withoutSource.slice(slash + 1) : withoutSource;
  if (prefix !== undefined && (prefix.length > 253 || !LABEL_PREFIX.test(prefix))) {
    return `label key prefix "${prefix}" must be a DNS subdomain (lower-case, at most 253 characters)`;
  }
  if (name.length === 0 || name.length > 63) return `label key name "${name}" must be 1 to 63 characters`;
  if (!LABEL_NAME.test(name)) {
    return `label key "${key}" must start and end with a letter or digit and contain only letters, digits, "-", "_", "."`;
  }
  return undefined;
}

function labelValueProblem(value: string): string | undefined {
  if (value.length > 63) return `label value "${value.slice(0, 20)}…" is longer than 63 characters`;
  if (value.length > 0 && !LABEL_NAME.test(value)) {
    return `label value "${value}" must start and end with a letter or digit and contain only letters, digits, "-", "_", "."`;
  }
  return undefined;
}

// A key is a 253-character prefix, "/", a 63-character name, and perhaps a Cilium source.
const MAX_KEY = 330;

export const labelKeySchema = z
  .string()
  .max(MAX_KEY, `a label key is at most ${MAX_KEY} characters`)
  .superRefine((key, ctx) => {
    const problem = labelKeyProblem(key);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

export const labelValueSchema = z
  .string({
    // YAML reads `app: true` or `tier: 1` as a boolean or a number; Kubernetes refuses those too.
    error: (issue) =>
      typeof issue.input === "boolean" || typeof issue.input === "number"
        ? `label value ${String(issue.input)} must be text: quote it ("${String(issue.input)}")`
        : `label value must be text, not ${Array.isArray(issue.input) ? "a list" : typeof issue.input === "object" && issue.input !== null ? "a mapping" : String(issue.input)}`,
  })
  .max(63, "a label value is at most 63 characters")
  .superRefine((value, ctx) => {
    const problem = labelValueProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** Keys are checked here rather than by a key schema so the issue names the key and says why. */
export const labelsSchema = z.record(z.string(), labelValueSchema).superRefine((labels, ctx) => {
  for (const key of Object.keys(labels)) {
    const problem = labelKeyProblem(key);
    if (problem) ctx.addIssue({ code: "custom", path: [key], message: problem });
  }
});
export type Labels = z.infer<typeof labelsSchema>;

const OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"] as const;
export const selectorOperatorSchema = z.enum(OPERATORS, {
  // Cilium's CRD and Kubernetes compare operators exactly: "in" is refused there too.
  error: (issue) =>
    `operator ${JSON.stringify(issue.input)} is not one of ${OPERATORS.join(", ")} (case matters)`,
});

// Strict: a misspelt field (`valuez`, `matchLabel`) is an error naming it. Stripped, it would
// leave a broader selector than the one written (`{}` selects everything).
export const labelSelectorRequirementSchema = z
  .strictObject({
    key: labelKeySchema,
    operator: selectorOperatorSchema,
    values: list(labelValueSchema, MAX_ITEMS.values, "values").optional(),
  })
  .superRefine((req, ctx) => {
    const hasValues = (req.values?.length ?? 0) > 0;
    if ((req.operator === "In" || req.operator === "NotIn") && !hasValues) {
      ctx.addIssue({
        code: "custom",
        path: ["values"],
        message: `operator ${req.operator} needs at least one value`,
      });
    }
    if ((req.operator === "Exists" || req.operator === "DoesNotExist") && hasValues) {
      ctx.addIssue({ code: "custom", path: ["values"], message: `operator ${req.operator} takes no values` });
    }
  });

/** An empty selector (`{}`) selects everything, as in Kubernetes. */
export const labelSelectorSchema = z.strictObject({
  matchLabels: labelsSchema.optional(),
  matchExpressions: list(labelSelectorRequirementSchema, MAX_ITEMS.expressions, "requirements").optional(),
});
export type LabelSelector = z.infer<typeof labelSelectorSchema>;

/** Drops a Cilium label source (`k8s:app` → `app`) so selectors and labels compare on the bare key. */
export function normalizeLabelKey(key: string): string {
  return key.replace(LABEL_SOURCE, "");
}

export function normalizeLabels(labels: Labels): Labels {
  const out: Labels = {};
  for (const [key, value] of Object.entries(labels)) out[normalizeLabelKey(key)] = value;
  return out;
}

export function selectorMatches(selector: LabelSelector, rawLabels: Labels): boolean {
  return selectorMatchesNormalized(selector, normalizeLabels(rawLabels));
}

/** selectorMatches for labels already passed through normalizeLabels (hot path of the compiler). */
export function selectorMatchesNormalized(selector: LabelSelector, labels: Labels): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[normalizeLabelKey(key)] !== value) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    const key = normalizeLabelKey(req.key);
    const present = Object.hasOwn(labels, key);
    const value = labels[key];
    const values = req.values ?? [];
    switch (req.operator) {
      case "In":
        if (!present || !values.includes(value as string)) return false;
        break;
      case "NotIn":
        if (present && values.includes(value as string)) return false;
        break;
      case "Exists":
        if (!present) return false;
        break;
      case "DoesNotExist":
        if (present) return false;
        break;
    }
  }
  return true;
}

/** True when the selector constrains `key` (in matchLabels or matchExpressions). */
export function selectorMentionsKey(selector: LabelSelector, key: string): boolean {
  const wanted = normalizeLabelKey(key);
  return (
    Object.keys(selector.matchLabels ?? {}).some((k) => normalizeLabelKey(k) === wanted) ||
    (selector.matchExpressions ?? []).some((req) => normalizeLabelKey(req.key) === wanted)
  );
}
