import { asPathLength } from "../codec/attributes.js";
import type { AttrSet } from "./attrs.js";

/** What best-path needs to know about where a candidate came from. */
export interface Candidate {
  set: AttrSet;
  local: boolean;
  ebgp: boolean;
  peerRouterId: number;
  peerAddress: string;
  peerAs: number;
}

function neighborAs(c: Candidate): number | undefined {
  const first = c.set.attrs.asPath?.[0];
  return first?.type === 2 ? first.asns[0] : undefined;
}

/**
 * RFC 4271 §9.1.2.2 decision process: higher LOCAL_PREF, locally originated, shorter AS_PATH, lower
 * ORIGIN, lower MED (same neighbour AS only), eBGP over iBGP, lower router ID, lower peer address.
 * Returns negative when a is better.
 */
export function compare(a: Candidate, b: Candidate): number {
  const lpA = a.set.attrs.localPref ?? 100;
  const lpB = b.set.attrs.localPref ?? 100;
  if (lpA !== lpB) return lpB - lpA;
  if (a.local !== b.local) return a.local ? -1 : 1;
  const plA = asPathLength(a.set.attrs.asPath);
  const plB = asPathLength(b.set.attrs.asPath);
  if (plA !== plB) return plA - plB;
  const oA = a.set.attrs.origin ?? 2;
  const oB = b.set.attrs.origin ?? 2;
  if (oA !== oB) return oA - oB;
  if (neighborAs(a) === neighborAs(b)) {
    const mA = a.set.attrs.med ?? 0;
    const mB = b.set.attrs.med ?? 0;
    if (mA !== mB) return mA - mB;
  }
  if (a.ebgp !== b.ebgp) return a.ebgp ? -1 : 1;
  if (a.peerRouterId !== b.peerRouterId) return a.peerRouterId - b.peerRouterId;
  return a.peerAddress < b.peerAddress ? -1 : a.peerAddress > b.peerAddress ? 1 : 0;
}
