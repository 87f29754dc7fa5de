/* SPDX-License-Identifier: Apache-2.0 */
/*
 * from_pod: tcx ingress on a pod veth's host side — packets the pod sends.
 * Enforces the sending endpoint's egress policy.
 *
 *   parse → (not IP: pass) → (IPv6 ND: pass) → conntrack (established / reply:
 *   hook_dns_redirect, hook_egress_gw, hook_srv6_encap) → endpoint by source address (unknown: pass, not ours) →
 *   hook_dns_redirect → egress policy → conntrack create → hook_egress_gw →
 *   hook_srv6_encap → finish
 */
#include "lib/common.h"
#include "lib/hooks.h"
#include "lib/pod.h"
#include "lib/policy.h"

static __always_inline int handle(struct __sk_buff *skb, struct flow *f, struct verdict_ctx *v)
{
	struct endpoint_info *ep = NULL;
	int ret = pod_begin(skb, f, v, DIR_EGRESS, &ep);

	if (!ep) {
		/* Not a new flow of an endpoint. An established DNS flow still goes to the proxy (a TCP
		 * query's segments after the SYN); the hook ignores everything else (ep NULL). */
		if (ret == 0) {
			ret = hook_dns_redirect(skb, f, NULL);
			if (ret)
				return ret;
			/* An established connection the egress gateway steered keeps going to its gateway. */
			ret = hook_egress_gw(skb, f, NULL);
			if (ret)
				return ret;
			/* Established and reply packets of a VRF member are encapsulated too. */
			return hook_srv6_encap(skb, f, NULL);
		}
		return ret;
	}
	v->src_identity = ep->identity;
	v->dst_identity = lookup_identity(f->family, f->daddr);
	if (ret < 0)
		return ret;
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
