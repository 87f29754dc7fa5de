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
              fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...auth() } }),
          }),
        }),
        false: httpBatchLink({ url, transformer: superjson, headers: auth, maxItems: MAX_BATCH }),
      }),
    ],
  });
}

export type MeridianClient = ReturnType<typeof createMeridianClient>;
