// Browser sign-in. The session secret is returned to the web layer, which puts it in an
// httpOnly cookie (SESSION_COOKIE); only its hash is stored.
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { createTRPCRouter, publicProcedure } from "../trpc";
import { roleSchema } from "../users/schemas";
import { bearerOrCookie } from "./caller";
import { CLIENT_ADDRESS_HEADER } from "./client-address";
import { DUMMY_PASSWORD_HASH, hashSecret, newSecret, verifyPassword } from "./crypto";
import { loginThrottle } from "./throttle";

export const SESSION_TTL_MS = 7 * 24 * 3600 * 1000;

const meOutput = z
  .object({
    kind: z.enum(["user", "token", "node"]),
    role: roleSchema.nullable(),
    user: z.object({ id: z.string(), email: z.string(), name: z.string() }).nullable(),
    nodeName: z.string().nullable(),
  })
  .nullable();

export const authRouter = createTRPCRouter({
  login: publicProcedure
    .meta({
      openapi: { method: "POST", path: "/auth/login", tags: ["auth"], summary: "Start a browser session" },
    })
    .input(
      z.object({
        email: z
          .string()
          .max(254, "an email address is at most 254 characters")
          .trim()
          .toLowerCase()
          .pipe(z.email()),
        password: z.string().min(1).max(1024),
      }),
    )
    .output(
      z.object({
        sessionToken: z.string(),
        expiresAt: z.date(),
        user: z.object({ id: z.string(), email: z.string(), name: z.string(), role: roleSchema }),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      // Unknown emails are throttled like real ones, so the throttle does not reveal accounts.
      const attempt = loginThrottle.admit(input.email, ctx.headers.get(CLIENT_ADDRESS_HEADER));
      // A password that was never checked (hashing queue full, database down) was no guess.
      const abandon = (err: unknown): never => {
        attempt.abandoned();
        throw err;
      };
      const user = await ctx.db.user.findUnique({ where: { email: input.email } }).catch(abandon);
      // Verify against a dummy hash when the user is missing, so timing does not reveal accounts.
      const ok = await verifyPassword(input.password, user?.passwordHash ?? DUMMY_PASSWORD_HASH).catch(
        abandon,
      );
      if (!user || !ok || user.disabled) {
        attempt.failed();
        throw new TRPCError({ code: "UNAUTHORIZED", message: "wrong email or password" });
      }
      attempt.succeeded();
      const { secret, hash } = newSecret("ses");
      const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
      await ctx.db.session.create({ data: { tokenHash: hash, userId: user.id, expiresAt } });
      return {
        sessionToken: secret,
        expiresAt,
        user: { id: user.id, email: user.email, name: user.name, role: user.role },
      };
    }),

  logout: publicProcedure
    .meta({ openapi: { method: "POST", path: "/auth/logout", tags: ["auth"] } })
    .input(z.object({}).optional())
    .output(z.object({ ok: z.literal(true) }))
    .mutation(async ({ ctx }) => {
      const secret = bearerOrCookie(ctx.headers);
      if (secret?.startsWith("mrd_ses_")) {
        await ctx.db.session.deleteMany({ where: { tokenHash: hashSecret(secret) } });
      }
      return { ok: true as const };
    }),

  me: publicProcedure
    .meta({ openapi: { method: "GET", path: "/auth/me", tags: ["auth"] } })
    .input(z.object({}).optional())
    .output(meOutput)
    .query(({ ctx }) => {
      const c = ctx.caller;
      switch (c.kind) {
        case "user":
        case "token":
          return {
            kind: c.kind,
            role: c.role,
            user: { id: c.user.id, email: c.user.email, name: c.user.name },
            nodeName: null,
          };
        case "node":
          return { kind: "node" as const, role: null, user: null, nodeName: c.nodeName };
        default:
          return null;
      }
    }),
});
