/* SPDX-License-Identifier: Apache-2.0 */
/*
 * from_net: tcx ingress on the uplink — packets arriving at the node.
 * Validates headers (malformed packets stop here with a reason) and hosts the SRv6
 * decap and egress-gateway return hooks. Pod ingress policy is enforced at to_pod.
 *
 *   parse (a non-first fragment: pass) → hook_srv6_decap → hook_egress_gw_return → finish
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
	ret = hook_srv6_decap(skb, f);
	if (ret)
		return ret;
	return hook_egress_gw_return(skb, f);
}

SEC("tc")
int from_net(struct __sk_buff *skb)
{
	struct flow f;
	struct verdict_ctx v = {};
	int ret = handle(skb, &f);

	return finish(skb, POINT_FROM_NET, ret, &f, &v);
}

char _license[] SEC("license") = "GPL";
