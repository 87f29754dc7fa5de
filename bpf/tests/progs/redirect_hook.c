/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test program, never loaded by the agent: from_pod with a stand-in feature whose egress hook
 * redirects every allowed new flow back out of the interface it came in on. It proves the seam
 * a real feature plugs into: the hook's TC_ACT_REDIRECT reaches the one exit, which counts it as
 * redirected, reports it and returns it (tests/redirect.test.ts).
 */
#include "../../lib/common.h"
#include "../../lib/maps.h"
#include "../../lib/parse.h"

#define HOOK_EGRESS_GW
static __always_inline int hook_egress_gw(struct __sk_buff *skb, const struct flow *f, const struct endpoint_info *ep)
{
	if (!ep)
		return 0; /* established packets: from_pod calls the hook for them too */
	return bpf_redirect(skb->ifindex, 0);
}

#include "../../from_pod.c"
