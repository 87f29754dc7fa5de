import { NextResponse } from "next/server";

/**
 * A 303 to a path on this same origin. Relative, because behind a proxy or with `-H 127.0.0.1`
 * the server's idea of its own host name may differ from the browser's (and cookies are per host).
 */
export function seeOther(pathAndQuery: string): NextResponse {
  return new NextResponse(null, { status: 303, headers: { location: pathAndQuery } });
}
