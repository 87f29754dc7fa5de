// Server components call the API in-process with the request's credentials: the same
// procedures, role checks and validation as over HTTP.
import { appRouter, createContext } from "@meridian/api";
import { headers } from "next/headers";
import { getDb } from "./db";

export async function serverCaller() {
  const ctx = await createContext({ db: getDb(), headers: new Headers(await headers()) });
  return appRouter.createCaller(ctx);
}

/** The signed-in user, or null. */
export async function currentUser() {
  try {
    const caller = await serverCaller();
    return await caller.auth.me();
  } catch {
    return null;
  }
}
