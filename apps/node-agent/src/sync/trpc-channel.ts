// ControlPlaneChannel over the API's tRPC procedures. The untyped client keeps the agent's
// type-check independent of every API router; the procedure names and input shapes are
// those of packages/api/src/agent/router.ts and schemas.ts.

import { MAX_BATCH } from "@meridian/api/limits/http";
import {
  createTRPCUntypedClient,
  httpBatchLink,
  httpSubscriptionLink,
  splitLink,
  TRPCClientError,
} from "@trpc/client";
import { EventSource } from "eventsource";
import superjson from "superjson";
import {
  type ControlPlaneChannel,
  ControlPlaneRejectedError,
  type DesiredStateEvent,
  type JoinRequest,
  type JoinResult,
} from "./channel.js";

export function createTrpcChannel(apiUrl: string, credential: () => string | undefined): ControlPlaneChannel {
  const url = `${apiUrl.replace(/\/$/, "")}/api/trpc`;
  const auth = (): Record<string, string> => {
    const c = credential();
    return c ? { authorization: `Bearer ${c}` } : {};
  };
  const client = createTRPCUntypedClient({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({
          url,
          transformer: superjson,
          EventSource,
          eventSourceOptions: () => ({
            fetch: (input, init) =>
              fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...auth() } }),
          }),
        }),
        false: httpBatchLink({ url, transformer: superjson, headers: auth, maxItems: MAX_BATCH }),
      }),
    ],
  });

  const rejected = (err: unknown): Error => {
    if (err instanceof TRPCClientError) {
      const code = (err.data as { code?: string } | undefined)?.code;
      if (code === "UNAUTHORIZED" || code === "FORBIDDEN" || code === "NOT_FOUND") {
        return new ControlPlaneRejectedError(err.message);
      }
    }
    return err as Error;
  };
  const mutate = async (path: string, input: unknown) => {
    try {
      return await client.mutation(path, input);
    } catch (err) {
      throw rejected(err);
    }
  };

  return {
    async join(req: JoinRequest): Promise<JoinResult> {
      return (await mutate("agent.join", req)) as JoinResult;
    },
    subscribe(from, h) {
      const sub = client.subscription("agent.desiredState", from, {
        onData: (data: unknown) => {
          // tracked() events arrive as { id, data }.
          const ev = (data as { data?: DesiredStateEvent }).data ?? (data as DesiredStateEvent);
          h.onEvent(ev);
        },
        onError: (err) => h.onError(rejected(err)),
        onConnectionStateChange: (s) => {
          h.onConnection(
            s.state === "pending",
            s.state === "connecting" && s.error ? (s.error as Error) : undefined,
          );
        },
        onStarted: () => h.onConnection(true),
      });
      return () => sub.unsubscribe();
    },
    async heartbeat(appliedRevision) {
      await mutate("agent.heartbeat", { appliedRevision });
    },
    async reportStatus(report) {
      await mutate("agent.reportStatus", report);
    },
    async reportEndpoints(endpoints) {
      await mutate("agent.reportEndpoints", { endpoints });
    },
    async bgpPassword(ref) {
      try {
        return ((await client.query("agent.bgpPassword", { ref })) as { password: string }).password;
      } catch (err) {
        throw rejected(err);
      }
    },
    async reportFlows(flows) {
      await mutate("agent.reportFlows", { flows });
    },
    async reportBgpRoutes(report) {
      await mutate("agent.reportBgpRoutes", report);
    },
    close() {
      // Nothing pooled: subscriptions are closed by their own unsubscribe.
    },
  };
}
