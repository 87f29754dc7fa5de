// The one place tRPC is set up: context (who is calling), superjson, the error shape the
// console and automation rely on (`fieldErrors` by dotted path), and the role procedures.
import type { Db } from "@meridian/db";
import { initTRPC, TRPCError } from "@trpc/server";
import type { OpenApiMeta } from "trpc-to-openapi";
import { ZodError } from "zod";
import type { ChangeFeed } from "./agent/change-feed";
import { resolveCaller } from "./auth/caller";
import { transformer } from "./transformer";

export const SESSION_COOKIE = "meridian_session";

export type Role = "admin" | "operator" | "viewer";

export interface UserPrincipal {
  id: string;
  email: string;
  name: string;
  role: Role;
}

/** Who is calling. Expired or revoked credentials resolve to `anonymous` (they prove nothing). */
export type Caller =
  | { kind: "anonymous" }
  | { kind: "user"; user: UserPrincipal; sessionId: string; role: Role }
  | { kind: "token"; tokenId: string; tokenName: string; user: UserPrincipal; role: Role }
  | { kind: "node"; nodeId: string; nodeName: string };

export interface CreateContextOptions {
  db: Db;
  headers: Headers;
  /** The process's LISTEN/NOTIFY hub; subscriptions need it, plain calls do not. */
  changeFeed?: ChangeFeed;
}

export async function createContext(opts: CreateContextOptions) {
  const caller = await resolveCaller(opts.db, opts.headers);
  return { db: opts.db, headers: opts.headers, changeFeed: opts.changeFeed, caller };
}

export type Context = Awaited<ReturnType<typeof createContext>>;

interface IssueLike {
  path: PropertyKey[];
  message: string;
}

/**
 * The zod issues behind an error. tRPC wraps causes that are not `Error` instances (zod 4's
 * ZodError is not one), so recognise them by shape rather than by class.
 */
export function zodIssuesOf(cause: unknown): IssueLike[] | null {
  if (cause instanceof ZodError) return cause.issues;
  const issues = (cause as { issues?: unknown } | null)?.issues;
  return Array.isArray(issues) ? (issues as IssueLike[]) : null;
}

/** Dotted paths (`spec.egress.0.toCIDR.1`) so a form can put each message beside its field. */
export function flattenFieldErrors(error: { issues: IssueLike[] }): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const key = issue.path.map(String).join(".") || "_";
    out[key] = [...(out[key] ?? []), issue.message];
  }
  return out;
}

const t = initTRPC
  .context<Context>()
  .meta<OpenApiMeta>()
  .create({
    transformer,
    errorFormatter({ shape, error }) {
      const issues = zodIssuesOf(error.cause);
      return {
        ...shape,
        message: issues ? summarise(issues) : shape.message,
        data: { ...shape.data, fieldErrors: issues ? flattenFieldErrors({ issues }) : null },
      };
    },
    sse: { ping: { enabled: true, intervalMs: 15_000 }, client: { reconnectAfterInactivityMs: 40_000 } },
  });

function summarise(issues: IssueLike[]): string {
  return issues
    .map((i) => `${i.path.length ? `${i.path.map(String).join(".")}: ` : ""}${i.message}`)
    .join("; ");
}

export const createTRPCRouter = t.router;
export const createCallerFactory = t.createCallerFactory;
export const mergeRouters = t.mergeRouters;

export const publicProcedure = t.procedure;

const authed = t.middleware(({ ctx, next }) => {
  if (ctx.caller.kind === "anonymous") {
    throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in or send a valid API token" });
  }
  return next({ ctx: { ...ctx, caller: ctx.caller } });
});

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/** People and API tokens with at least `min`; node credentials never reach these procedures. */
function requireRole(min: Role) {
  return authed.unstable_pipe(({ ctx, next }) => {
    const caller = ctx.caller;
    if (caller.kind !== "user" && caller.kind !== "token") {
      throw new TRPCError({ code: "FORBIDDEN", message: "node credentials may only use the agent channel" });
    }
    if (RANK[caller.role] < RANK[min]) {
      throw new TRPCError({
        code: "FORBIDDEN",
        message: `this needs the ${min} role; you have ${caller.role}`,
      });
    }
    return next({ ctx: { ...ctx, caller, actor: actorOf(caller) } });
  });
}

export const viewerProcedure = t.procedure.use(requireRole("viewer"));
export const operatorProcedure = t.procedure.use(requireRole("operator"));
export const adminProcedure = t.procedure.use(requireRole("admin"));

export const nodeProcedure = t.procedure.use(
  authed.unstable_pipe(({ ctx, next }) => {
    const caller = ctx.caller;
    if (caller.kind !== "node") {
      throw new TRPCError({ code: "FORBIDDEN", message: "only a node credential may use the agent channel" });
    }
    return next({ ctx: { ...ctx, caller, actor: actorOf(caller) } });
  }),
);

/** Who a revision is attributed to. */
export interface Actor {
  kind: "user" | "token" | "node" | "system";
  id: string | null;
  name: string;
}

export function actorOf(caller: Caller): Actor {
  switch (caller.kind) {
    case "user":
      return { kind: "user", id: caller.user.id, name: caller.user.email };
    case "token":
      return { kind: "token", id: caller.tokenId, name: `${caller.user.email} (token ${caller.tokenName})` };
    case "node":
      return { kind: "node", id: caller.nodeId, name: `node ${caller.nodeName}` };
    default:
      return { kind: "system", id: null, name: "system" };
  }
}
