import type { z } from "zod";
import { specIssues } from "./common";

/** The field + reason pairs a user would see for `value`; empty when it is valid. */
export function issuesOf(schema: z.ZodType, value: unknown) {
  const result = schema.safeParse(value);
  return result.success ? [] : specIssues(result.error);
}
