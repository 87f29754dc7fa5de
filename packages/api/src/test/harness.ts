// Test set-up against real PostgreSQL: a fresh migrated database per test file, one user and
// API token per role, and callers that authenticate exactly as HTTP requests do (headers).
import { createTestDatabase, type TestDatabase } from "@meridian/db/testing";
import { ChangeFeed } from "../agent/change-feed";
import { hashPassword, newSecret } from "../auth/crypto";
import { appRouter } from "../root";
import { createCallerFactory, createContext, type Role } from "../trpc";

const createCaller = createCallerFactory(appRouter);

export const PASSWORD = "correct horse battery staple";

export interface Harness {
  tdb: TestDatabase;
  db: TestDatabase["prisma"];
  feed: ChangeFeed;
  tokens: Record<Role, string>;
  userIds: Record<Role, string>;
  /** A caller authenticated with this bearer secret (API token, node credential, session). */
  withToken(secret: string | null): Promise<ReturnType<typeof createCaller>>;
  as(role: Role): Promise<ReturnType<typeof createCaller>>;
  anon(): Promise<ReturnType<typeof createCaller>>;
  close(): Promise<void>;
}

export async function createHarness(): Promise<Harness> {
  const tdb = await createTestDatabase();
  const db = tdb.prisma;
  const feed = new ChangeFeed(tdb.url, 600_000); // tests exercise NOTIFY; the poll is tested on its own
  const passwordHash = await hashPassword(PASSWORD);
  const tokens = {} as Record<Role, string>;
  const userIds = {} as Record<Role, string>;
  for (const role of ["admin", "operator", "viewer"] as const) {
    const u = await db.user.create({ data: { email: `${role}@test.local`, name: role, role, passwordHash } });
    const t = newSecret("tok");
    await db.apiToken.create({
      data: { name: `${role} token`, role, tokenHash: t.hash, prefix: t.prefix, createdById: u.id },
    });
    tokens[role] = t.secret;
    userIds[role] = u.id;
  }
  const withToken = async (secret: string | null) =>
    createCaller(
      await createContext({
        db,
        changeFeed: feed,
        headers: new Headers(secret ? { authorization: `Bearer ${secret}` } : {}),
      }),
    );
  return {
    tdb,
    db,
    feed,
    tokens,
    userIds,
    withToken,
    as: (role) => withToken(tokens[role]),
    anon: () => withToken(null),
    async close() {
      await feed.stop();
      await tdb.drop();
    },
  };
}

/** Runs `fn` and returns the tRPC error it threw (failing the test if it did not). */
export async function errorOf(
  fn: () => Promise<unknown>,
): Promise<{ code: string; message: string; fieldErrors: Record<string, string[]> | null }> {
  try {
    await fn();
  } catch (err) {
    const e = err as { code?: string; message: string; cause?: unknown };
    const { flattenFieldErrors, zodIssuesOf } = await import("../trpc");
    const issues = zodIssuesOf(e.cause);
    return {
      code: e.code ?? "UNKNOWN",
      message: e.message,
      fieldErrors: issues ? flattenFieldErrors({ issues }) : null,
    };
  }
  throw new Error("expected the call to fail, but it succeeded");
}
