// Browser sign-in: checks the password through the API's auth.login and keeps the session in an
// httpOnly cookie, so no token is ever readable by page scripts.
import { appRouter, createContext, SESSION_COOKIE } from "@meridian/api";
import { TRPCError } from "@trpc/server";
import type { LoginError } from "@/lib/login-messages";
import { getDb } from "@/server/db";
import { seeOther } from "@/server/redirect";
import { safeNext } from "@/server/safe-next";
import { isSameOrigin } from "@/server/same-origin";

export const dynamic = "force-dynamic";

/** Back to the sign-in page with a code from the fixed list (see src/lib/login-messages.ts). */
function refused(code: LoginError, email: string, next: string, retryAfter?: number) {
  const query = new URLSearchParams({ error: code });
  if (email) query.set("email", email);
  if (next !== "/") query.set("next", next);
  if (retryAfter) query.set("wait", String(retryAfter));
  const res = seeOther(`/login?${query}`);
  if (retryAfter) res.headers.set("retry-after", String(retryAfter));
  return res;
}

export async function POST(req: Request) {
  const form = await req.formData().catch(() => null);
  const email = String(form?.get("email") ?? "").slice(0, 320);
  const password = String(form?.get("password") ?? "");
  const next = safeNext(form?.get("next"));
  // Another origin's page posting here would sign the browser in to an account of its choosing.
  if (!isSameOrigin(req.headers)) return refused("origin", "", next);
  const caller = appRouter.createCaller(await createContext({ db: getDb(), headers: req.headers }));
  try {
    const result = await caller.auth.login({ email, password });
    const res = seeOther(next);
    res.cookies.set(SESSION_COOKIE, result.sessionToken, {
      httpOnly: true,
      sameSite: "lax",
      path: "/",
      secure: new URL(req.url).protocol === "https:",
      expires: result.expiresAt ? new Date(result.expiresAt) : undefined,
    });
    return res;
  } catch (err) {
    if (!(err instanceof TRPCError)) return refused("failed", email, next);
    if (err.code === "TOO_MANY_REQUESTS") {
      const wait = (err as { retryAfterSeconds?: number }).retryAfterSeconds ?? 1;
      return refused("throttled", email, next, wait);
    }
    return refused(
      err.code === "UNAUTHORIZED" || err.code === "BAD_REQUEST" ? "invalid" : "failed",
      email,
      next,
    );
  }
}
