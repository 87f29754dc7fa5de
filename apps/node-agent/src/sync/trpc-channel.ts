// ControlPlaneChannel over the API's `agent.*` procedures, with the API package's typed client
// (createMeridianClient): procedure names, inputs and outputs are checked against the API's router
// when the agent is type-checked.

import { createMeridianClient } from "@meridian/api/client";
import { TRPCClientError } from "@trpc/client";
import { type ControlPlaneChannel, ControlPlaneRejectedError } from "./channel.js";

export function createTrpcChannel(apiUrl: string, credential: () => string | undefined): ControlPlaneChannel {
  const { agent } = createMeridianClient({ url: apiUrl, token: credential });

  const rejected = (err: unknown): Error => {
    if (err instanceof TRPCClientError) {
      const code = (err.data as { code?: string } | undefined)?.code;
      if (code === "UNAUTHORIZED" || code === "FORBIDDEN" || code === "NOT_FOUND") {
        return new ControlPlaneRejectedError(err.message);
      }
    }
    return err as Error;
  };
  const call = async <T>(request: () => Promise<T>): Promise<T> => {
    try {
      return await request();
    } catch (err) {
      throw rejected(err);
    }
  };

  return {
    join: (req) => call(() => agent.join.mutate(req)),
    subscribe(from, h) {
      const sub = agent.desiredState.subscribe(from, {
        // tracked() events arrive as { id, data }.
        onData: ({ data }) => h.onEvent(data),
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
      await call(() => agent.heartbeat.mutate({ appliedRevision }));
    },
    async reportStatus(report) {
      await call(() => agent.reportStatus.mutate(report));
    },
    async reportEndpoints(endpoints) {
      await call(() => agent.reportEndpoints.mutate({ endpoints }));
    },
    async bgpPassword(ref) {
      return (await call(() => agent.bgpPassword.query({ ref }))).password;
    },
    async reportFlows(flows) {
      await call(() => agent.reportFlows.mutate({ flows }));
    },
    async reportDnsEvents(events) {
      await call(() => agent.reportDnsEvents.mutate({ events }));
    },
    async reportBgpRoutes(report) {
      await call(() => agent.reportBgpRoutes.mutate(report));
    },
    close() {
      // Nothing pooled: subscriptions are closed by their own unsubscribe.
    },
  };
}
