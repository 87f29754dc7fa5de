/* SPDX-License-Identifier: Apache-2.0 */
/*
 * from_pod: tcx ingress on a pod veth's host side — packets the pod sends.
 * Enforces the sending endpoint's egress policy.
 *
 *   parse → (not IP: pass) → (IPv6 ND: pass) → endpoint by source address
 *   (unknown: pass, not ours) → conntrack (established / reply: pass) →
 *   hook_dns_redirect → egress policy → conntrack create → hook_egress_gw →
 *   hook_srv6_encap → finish
 */
#include "lib/common.h"
#include "lib/conntrack.h"
#include "lib/exit.h"
#include "lib/hooks.h"
#include "lib/lookup.h"
#include "lib/parse.h"
#include "lib/policy.h"

static __always_inline int handle(struct __sk_buff *skb, struct flow *f, struct verdict_ctx *v)
{
	struct endpoint_info *ep;
	int ret = parse_packet(skb, f);

	if (ret < 0)
		return ret;
	if (ret == PARSE_NOT_IP || is_icmpv6_nd(f))
		return 0;

	ep = lookup_endpoint(f->family, f->saddr);
	if (!ep)
		return 0;
	v->ep_id = ep->ep_id;
	v->src_identity = ep->identity;

	if (ct_lookup(f, DIR_EGRESS, &v->rule_id) != CT_NEW)
		return 0;

	v->dst_identity = lookup_identity(f->family, f->daddr);
	ret = hook_dns_redirect(skb, f, ep);
	if (ret)
		return ret;
	ret = policy_check(ep, v->dst_identity, DIR_EGRESS, f, &v->rule_id);
	if (ret < 0)
		return ret;
	ct_create(f, DIR_EGRESS, v->rule_id);
	v->notify = true;

	ret = hook_egress_gw(skb, f, ep);
	if (ret)
		return ret;
	return hook_srv6_encap(skb, f, ep);
}

SEC("tc")
int from_pod(struct __sk_buff *skb)
{
	struct flow f;
	struct verdict_ctx v = {};
	int ret = handle(skb, &f, &v);

	return finish(skb, POINT_FROM_POD, ret, &f, &v);
}

char _license[] SEC("license") = "GPL";
