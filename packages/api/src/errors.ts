// Errors a person can act on: which field, why; for conflicts, who changed it and when.
import { TRPCError } from "@trpc/server";

export interface FieldProblem {
  path: (string | number)[];
  message: string;
}

/** Issues in zod's shape on a real Error, so tRPC keeps it as the cause and the formatter reports `fieldErrors`. */
export class FieldValidationError extends Error {
  readonly issues: { code: "custom"; path: (string | number)[]; message: string }[];
  constructor(problems: FieldProblem[]) {
    super(problems.map((p) => `${p.path.join(".")}: ${p.message}`).join("; "));
    this.name = "FieldValidationError";
    this.issues = problems.map((p) => ({ code: "custom", path: p.path, message: p.message }));
  }
}

/** A BAD_REQUEST whose message and `fieldErrors` name each field and the reason. */
export function fieldErrors(problems: FieldProblem[]): TRPCError {
  const cause = new FieldValidationError(problems);
  return new TRPCError({ code: "BAD_REQUEST", message: cause.message, cause });
}

export function fieldError(path: (string | number)[], message: string): TRPCError {
  return fieldErrors([{ path, message }]);
}

export function notFound(what: string): TRPCError {
  return new TRPCError({ code: "NOT_FOUND", message: `${what} not found` });
}

export function conflict(
  what: string,
  row: { version: number; updatedBy: string; updatedAt: Date },
  yours: number,
) {
  return new TRPCError({
    code: "CONFLICT",
    message: `${what} was changed by ${row.updatedBy} at ${row.updatedAt.toISOString()} (now version ${row.version}; your edit was based on version ${yours}). Reload it and apply your change again.`,
  });
}

/** Prisma's unique-constraint violation, mapped to the field that must change. */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: string }).code === "P2002";
}
