// Browser sign-in: checks the password through the API's auth.login and keeps the session in an
// httpOnly cookie, so no token is ever readable by page scripts.
import { appRouter, createContext, SESSION_COOKIE } from "@meridian/api";
import { TRPCError } from "@trpc/server";
import { getDb } from "@/server/db";
import { seeOther } from "@/server/redirect";

export const dynamic = "force-dynamic";

export async function POST(req: Request) {
  const form = await req.formData().catch(() => null);
  const email = String(form?.get("email") ?? "");
  const password = String(form?.get("password") ?? "");
  const next = String(form?.get("next") ?? "/");
  const safeNext = next.startsWith("/") && !next.startsWith("//") ? next : "/";
  const caller = appRouter.createCaller(await createContext({ db: getDb(), headers: req.headers }));
  try {
    const result = await caller.auth.login({ email, password });
    const res = seeOther(safeNext);
    res.cookies.set(SESSION_COOKIE, result.sessionToken, {
      httpOnly: true,
      sameSite: "lax",
      path: "/",
      secure: new URL(req.url).protocol === "https:",
      expires: result.expiresAt ? new Date(result.expiresAt) : undefined,
    });
    return res;
  } catch (err) {
    const message = err instanceof TRPCError ? err.message : "sign-in failed";
    const query = new URLSearchParams({ error: message, email });
    return seeOther(`/login?${query}`);
  }
}
