import { appRouter, createContext, SESSION_COOKIE } from "@meridian/api";
import { getDb } from "@/server/db";
import { seeOther } from "@/server/redirect";

export const dynamic = "force-dynamic";

export async function POST(req: Request) {
  const caller = appRouter.createCaller(await createContext({ db: getDb(), headers: req.headers }));
  await caller.auth.logout().catch(() => {});
  const res = seeOther("/login");
  res.cookies.delete(SESSION_COOKIE);
  return res;
}
