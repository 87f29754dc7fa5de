"use server";
// The pages of the console's long lists after the first, fetched by the virtual grid as they
// scroll into view. Server actions are public endpoints: each checks the session first, and the
// API calls underneath check the role as for every page.
import { currentUser } from "@/server/caller";
import {
  type EndpointFilter,
  endpointRows,
  LIST_PAGE,
  type NodeFilter,
  nodeRows,
  type PolicyFilter,
  peerRows,
  policyRows,
  type RevisionFilter,
  revisionRows,
} from "@/server/lists";

async function signedIn(offset: number, limit: number) {
  const me = await currentUser();
  if (!me?.user) throw new Error("sign in first");
  if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > LIST_PAGE)
    throw new Error(`offset must be a whole number from 0 and limit 1..${LIST_PAGE}`);
}

export async function loadEndpoints(f: EndpointFilter, offset: number, limit: number) {
  await signedIn(offset, limit);
  return (await endpointRows(f, offset, limit)).rows;
}

export async function loadNodes(f: NodeFilter, offset: number, limit: number) {
  await signedIn(offset, limit);
  return (await nodeRows(f, offset, limit)).rows;
}

export async function loadPolicies(f: PolicyFilter, offset: number, limit: number) {
  await signedIn(offset, limit);
  return (await policyRows(f, offset, limit)).rows;
}

export async function loadPeers(f: { q?: string }, offset: number, limit: number) {
  await signedIn(offset, limit);
  return (await peerRows(f, offset, limit)).rows;
}

export async function loadRevisions(f: RevisionFilter, offset: number, limit: number) {
  await signedIn(offset, limit);
  return (await revisionRows(f, offset, limit)).rows;
}
