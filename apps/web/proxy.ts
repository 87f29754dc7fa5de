// Runs in front of every request (pages, API, assets, 404s): sets the security headers from
// src/server/security-headers.ts, and for pages a fresh CSP nonce, which Next reads back from the
// request's Content-Security-Policy header and puts on the scripts it renders.
import { type NextRequest, NextResponse } from "next/server";
import {
  isApiPath,
  newNonce,
  pageContentSecurityPolicy,
  type RequestFacts,
  securityHeaders,
} from "@/server/security-headers";

export function proxy(request: NextRequest) {
  const facts: RequestFacts = {
    pathname: request.nextUrl.pathname,
    https: request.nextUrl.protocol === "https:" || request.headers.get("x-forwarded-proto") === "https",
    dev: process.env.NODE_ENV === "development",
  };
  const requestHeaders = new Headers(request.headers);
  let pageCsp: string | null = null;
  if (!isApiPath(facts.pathname)) {
    pageCsp = pageContentSecurityPolicy(newNonce(), facts);
    requestHeaders.set("content-security-policy", pageCsp);
  }
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  for (const [name, value] of Object.entries(securityHeaders(facts))) response.headers.set(name, value);
  if (pageCsp) response.headers.set("content-security-policy", pageCsp);
  return response;
}
