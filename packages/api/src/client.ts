// Typed client for TypeScript automation and the agent: queries and mutations over batched
// HTTP, subscriptions over SSE, superjson both ways, bearer token auth.
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from "@trpc/client";
import { EventSource } from "eventsource";
import superjson from "superjson";
import { MAX_BATCH } from "./limits/http";
import type { AppRouter } from "./root";

export interface MeridianClientOptions {
  /** Base URL of the console or API server, e.g. https://meridian.example.net */
  url: string;
  /** An API token (automation) or node credential (agent); a function is asked at every request. */
  token?: string | (() => string | undefined);
  /** Override the tRPC path; defaults to /api/trpc. */
  path?: string;
}

export function createMeridianClient(opts: MeridianClientOptions) {
  const url = `${opts.url.replace(/\/$/, "")}${opts.path ?? "/api/trpc"}`;
  const { token } = opts;
  const auth = (): Record<string, string> => {
    const t = typeof token === "function" ? token() : token;
    return t ? { authorization: `Bearer ${t}` } : {};
  };
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({
          url,
          transformer: superjson,
          // The WHATWG EventSource cannot send headers; this one lets us wrap its fetch.
          EventSource,
          // A function: each (re)connect asks for the token again (an agent gets its credential at join).
          eventSourceOptions: () => ({
            fetch: (input, init) =>
              connectStream(input, {
                ...init,
                headers: { ...(init?.headers as Record<string, string>), ...auth() },
              }),
          }),
        }),
        false: httpBatchLink({ url, transformer: superjson, headers: auth, maxItems: MAX_BATCH }),
      }),
    ],
  });
}

export type MeridianClient = ReturnType<typeof createMeridianClient>;

/** How long a subscription waits for the server's response headers before it tries again. */
export const STREAM_CONNECT_TIMEOUT_MS = 10_000;

/**
 * The stream's fetch, with a deadline for the response headers: a connection that a middlebox or a
 * half-dead relay holds open without answering would otherwise hang the subscription for good
 * (the server's pings and the client's inactivity timeout only start once the stream is open).
 * The deadline fails the attempt with an ordinary error, so EventSource reconnects as it does
 * after a refused connection; an abort of its own (close) still ends it.
 */
async function connectStream(input: string | URL | Request, init: RequestInit): Promise<Response> {
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new Error(`no response within ${STREAM_CONNECT_TIMEOUT_MS / 1000} s`)),
    STREAM_CONNECT_TIMEOUT_MS,
  );
  try {
    return await fetch(input, {
      ...init,
      signal: init.signal ? AbortSignal.any([init.signal, deadline.signal]) : deadline.signal,
    });
  } finally {
    clearTimeout(timer);
  }
}
