import { appRouter, createContext, SESSION_COOKIE } from "@meridian/api";
import { getDb } from "@/server/db";
import { seeOther } from "@/server/redirect";
import { isSameOrigin } from "@/server/same-origin";

export const dynamic = "force-dynamic";

export async function POST(req: Request) {
  // Another origin's page must not be able to end the console's session.
  if (!isSameOrigin(req.headers)) {
    return new Response("sign-out refused: the request did not come from this console's pages\n", {
      status: 403,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  }
  const caller = appRouter.createCaller(await createContext({ db: getDb(), headers: req.headers }));
  await caller.auth.logout().catch(() => {});
  const res = seeOther("/login");
  res.cookies.delete(SESSION_COOKIE);
  return res;
}
