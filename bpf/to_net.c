/* SPDX-License-Identifier: Apache-2.0 */
/*
 * to_net: tcx egress on the uplink — packets leaving the node.
 * Validates headers and hosts the egress-gateway SNAT hook.
 *
 *   parse (a non-first fragment: pass) → hook_snat → finish
 */
#include "lib/common.h"
#include "lib/exit.h"
#include "lib/hooks.h"
#include "lib/parse.h"

static __always_inline int handle(struct __sk_buff *skb, struct flow *f)
{
	int ret = parse_packet(skb, f);

	/* A later fragment has no ports to decide on, but on the uplink it is the node's own or
	 * transit traffic (pods cannot send one: from_pod drops them), which must not break: pass. */
	if (ret == -DROP_FRAG_UNSUPPORTED)
		return 0;
	if (ret < 0)
		return ret;
	if (ret == PARSE_NOT_IP)
		return 0;
	return hook_snat(skb, f);
}

SEC("tc")
int to_net(struct __sk_buff *skb)
{
	struct flow f;
	struct verdict_ctx v = {};
	int ret = handle(skb, &f);

	return finish(skb, POINT_TO_NET, ret, &f, &v);
}

char _license[] SEC("license") = "GPL";
