// What an error may tell the caller. Known database errors become the 4xx a person can act on;
// anything unexpected becomes a 500 with a request id and a generic message, and its details
// (Prisma's text, SQL states, stacks) go to the server log only.
import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import { type FieldProblem, FieldValidationError } from "../errors";
import { excerpt } from "./raw-input";

/** Longest message or path segment an error carries back. */
const MAX_MESSAGE = 500;
const MAX_SEGMENT = 200;

export function shortMessage(message: string): string {
  return excerpt(message, MAX_MESSAGE);
}

export function shortPath(path: readonly PropertyKey[]): (string | number)[] {
  return path.map((p) => (typeof p === "number" ? p : excerpt(String(p), MAX_SEGMENT)));
}

interface PrismaLikeError {
  name?: string;
  code?: string;
  meta?: {
    target?: unknown;
    modelName?: string;
    driverAdapterError?: { cause?: { originalCode?: string; code?: string } };
  };
}

function sqlState(err: PrismaLikeError): string | undefined {
  const cause = err.meta?.driverAdapterError?.cause;
  return cause?.originalCode ?? cause?.code;
}

/**
 * The 4xx for a database error that the input caused, or null. Prisma codes:
 * https://www.prisma.io/docs/orm/reference/error-reference (P2000 too long, P2002 unique,
 * P2003 foreign key, P2020 out of range, P2025 missing, P2028 transaction API); SQL states of
 * class 22 are data exceptions (22021 invalid byte sequence, 22003 out of range, 22P02 bad text).
 */
export function databaseErrorToTrpc(err: unknown): TRPCError | null {
  if (typeof err !== "object" || err === null) return null;
  const e = err as PrismaLikeError;
  if (e.name === "PrismaClientValidationError") {
    return new TRPCError({
      code: "BAD_REQUEST",
      message: "a value is out of range or of the wrong type for the database",
    });
  }
  if (e.name !== "PrismaClientKnownRequestError") return null;
  const state = sqlState(e);
  switch (e.code) {
    case "P2002":
      return new TRPCError({
        code: "CONFLICT",
        message: `an object with this ${String(e.meta?.target ?? "name")} already exists`,
      });
    case "P2003":
      return new TRPCError({ code: "BAD_REQUEST", message: "refers to an object that does not exist" });
    case "P2025":
      return new TRPCError({ code: "NOT_FOUND", message: "the object was not found (deleted meanwhile?)" });
    case "P2000":
      return new TRPCError({ code: "BAD_REQUEST", message: "a value is too long for the database" });
    case "P2020":
      return new TRPCError({ code: "BAD_REQUEST", message: "a number is out of range for the database" });
    case "P2028":
      return new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the database is busy; try again" });
  }
  if (state?.startsWith("22")) {
    return new TRPCError({
      code: "BAD_REQUEST",
      message: "a value cannot be stored: it is malformed or out of range",
    });
  }
  return null;
}

/** Zod-shaped issues with messages and paths cut short, for any schema failure. */
export function shortIssues(issues: { path: PropertyKey[]; message: string }[]): FieldProblem[] {
  return issues.map((i) => ({ path: shortPath(i.path), message: shortMessage(i.message) }));
}

/** The same error (same code), its field issues and message cut short. */
export function shortFieldErrors(
  code: TRPCError["code"],
  issues: { path: PropertyKey[]; message: string }[],
): TRPCError {
  const cause = new FieldValidationError(shortIssues(issues));
  return new TRPCError({ code, message: cause.message, cause });
}

export interface ErrorLogger {
  error(details: Record<string, unknown>, message: string): void;
}

/** Where unexpected errors go: one JSON line on stderr (the console's and the API's log). */
export const stderrLogger: ErrorLogger = {
  error(details, message) {
    process.stderr.write(
      `${JSON.stringify({ level: "error", time: new Date().toISOString(), msg: message, ...details })}\n`,
    );
  },
};

let logger: ErrorLogger = stderrLogger;
/** Tests capture the log to check that details reach it and not the caller. */
export function setErrorLogger(next: ErrorLogger): ErrorLogger {
  const previous = logger;
  logger = next;
  return previous;
}

export const INTERNAL_PREFIX = "internal error (request id ";

/** Logs an unexpected error with a fresh request id and returns the message the caller sees. */
export function internalError(err: unknown, where: { path?: string; type?: string }): string {
  const requestId = randomUUID();
  const e = err as { name?: string; message?: string; stack?: string; cause?: unknown };
  const cause = e?.cause as { message?: string; stack?: string } | undefined;
  logger.error(
    {
      requestId,
      path: where.path,
      type: where.type,
      error: e?.name,
      message: e?.message,
      stack: e?.stack,
      cause: cause?.message,
      causeStack: cause?.stack,
    },
    "unexpected error in an API call",
  );
  return `${INTERNAL_PREFIX}${requestId}); the details are in the server log`;
}
