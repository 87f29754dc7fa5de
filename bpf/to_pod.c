/* SPDX-License-Identifier: Apache-2.0 */
/*
 * to_pod: tcx egress on a pod veth's host side — packets on their way into the pod.
 * Enforces the receiving endpoint's ingress policy.
 *
 *   parse → (not IP: pass) → (IPv6 ND: pass) → endpoint by destination address
 *   (unknown: pass, not ours) → conntrack (established / reply: pass) →
 *   ingress policy → conntrack create → finish
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

	ep = lookup_endpoint(f->family, f->daddr);
	if (!ep)
		return 0;
	v->ep_id = ep->ep_id;
	v->dst_identity = ep->identity;

	if (ct_lookup(f, DIR_INGRESS, &v->rule_id) != CT_NEW)
		return 0;

	v->src_identity = lookup_identity(f->family, f->saddr);
	ret = policy_check(ep, v->src_identity, DIR_INGRESS, f, &v->rule_id);
	if (ret < 0)
		return ret;
	ct_create(f, DIR_INGRESS, v->rule_id);
	v->notify = true;
	return 0;
}

SEC("tc")
int to_pod(struct __sk_buff *skb)
{
	struct flow f;
	struct verdict_ctx v = {};
	int ret = handle(skb, &f, &v);

	return finish(skb, POINT_TO_POD, ret, &f, &v);
}

char _license[] SEC("license") = "GPL";
