// Limits on the request itself, before tRPC or the REST layer reads it: a body of at most
// MAX_BODY_BYTES, JSON only for writes, and at most MAX_BATCH calls per tRPC batch (one request
// used to run 200 joins, or return 106 MB). The same limits serve the Next.js route handlers
// (fetch Requests) and the plain node:http server.

/** The largest body any procedure needs: a 5 MB Cilium YAML import, JSON-escaped. */
export const MAX_BODY_BYTES = 6 * 1024 * 1024;
/** Calls in one tRPC batch; clients' batch links use the same number (`maxItems`). */
export const MAX_BATCH = 16;

const JSON_TYPE = /^application\/json\s*(;|$)/i;

export class RequestRefused extends Error {
  constructor(
    readonly status: 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

function refusal(status: 413 | 415, message: string): Response {
  const code = status === 413 ? "PAYLOAD_TOO_LARGE" : "UNSUPPORTED_MEDIA_TYPE";
  return Response.json(
    { error: { message, code }, message, code },
    { status, headers: { "cache-control": "no-store" } },
  );
}

/** Why a request with these headers cannot be read, or null. */
export function requestHeadersProblem(method: string, headers: Headers): RequestRefused | null {
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return null;
  const length = Number(headers.get("content-length") ?? "0");
  if (length > MAX_BODY_BYTES) {
    return new RequestRefused(413, `the request body is ${length} bytes; at most ${MAX_BODY_BYTES}`);
  }
  const type = headers.get("content-type");
  // No body at all (a DELETE, a logout) is fine; any body must be JSON. Forms and multipart are
  // what a cross-site page can send without a preflight.
  if (type && !JSON_TYPE.test(type)) {
    return new RequestRefused(415, `the request body must be application/json, not ${type.slice(0, 80)}`);
  }
  return null;
}

async function readCapped(body: ReadableStream<Uint8Array>): Promise<Uint8Array<ArrayBuffer> | null> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * The request with its body read under the limit (a chunked body has no Content-Length to trust),
 * or the 413/415 response to send instead.
 */
export async function limitFetchRequest(req: Request): Promise<Request | Response> {
  const problem = requestHeadersProblem(req.method, req.headers);
  if (problem) return refusal(problem.status, problem.message);
  if (!req.body) return req;
  const body = await readCapped(req.body);
  if (!body) return refusal(413, `the request body is larger than ${MAX_BODY_BYTES} bytes`);
  return new Request(req.url, { method: req.method, headers: req.headers, body, signal: req.signal });
}
