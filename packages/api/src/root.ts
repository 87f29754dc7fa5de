// Composes the domain routers (and pins their input schemas, once); nothing else lives here.
import { agentRouter } from "./agent/router";
import { auditRouter } from "./audit/router";
import { authRouter } from "./auth/router";
import { bgpRouter } from "./bgp/router";
import { ciliumRouter } from "./cilium-io/router";
import { dnsRouter } from "./dns/router";
import { egressPoliciesRouter } from "./egress/router";
import { endpointsRouter, identitiesRouter } from "./endpoints/router";
import { flowsRouter } from "./flows/router";
import { healthRouter } from "./health/router";
import { pinInputCoercion } from "./limits/pin-coercion";
import { joinTokensRouter } from "./nodes/join-tokens";
import { nodesRouter } from "./nodes/router";
import { networkPoliciesRouter } from "./policies/router";
import { servicesRouter } from "./services/router";
import { srv6Router } from "./srv6/router";
import { statusRouter } from "./status/router";
import { apiTokensRouter } from "./tokens/router";
import { createTRPCRouter } from "./trpc";
import { usersRouter } from "./users/router";

export const appRouter = createTRPCRouter({
  auth: authRouter,
  users: usersRouter,
  apiTokens: apiTokensRouter,
  joinTokens: joinTokensRouter,
  nodes: nodesRouter,
  endpoints: endpointsRouter,
  identities: identitiesRouter,
  policies: networkPoliciesRouter,
  egress: egressPoliciesRouter,
  dns: dnsRouter,
  bgp: bgpRouter,
  srv6: srv6Router,
  services: servicesRouter,
  cilium: ciliumRouter,
  audit: auditRouter,
  flows: flowsRouter,
  status: statusRouter,
  health: healthRouter,
  agent: agentRouter,
});

// Before any REST adapter sees the schemas (see limits/pin-coercion.ts).
pinInputCoercion(appRouter);

export type AppRouter = typeof appRouter;
