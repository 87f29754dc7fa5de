/* SPDX-License-Identifier: Apache-2.0 */
/*
 * to_pod: tcx egress on a pod veth's host side — packets on their way into the pod.
 * Enforces the receiving endpoint's ingress policy.
 *
 *   parse → (not IP: pass) → (IPv6 ND: pass) → conntrack (established / reply:
 *   pass) → endpoint by destination address (unknown: pass, not ours) →
 *   ingress policy → conntrack create → finish
 */
#include "lib/common.h"
#include "lib/pod.h"
#include "lib/policy.h"

static __always_inline int handle(struct __sk_buff *skb, struct flow *f, struct verdict_ctx *v)
{
	struct endpoint_info *ep = NULL;
	int ret = pod_begin(skb, f, v, DIR_INGRESS, &ep);

	if (!ep)
		return ret;
	v->dst_identity = ep->identity;
	v->src_identity = lookup_identity(f->family, f->saddr);
	if (ret < 0)
		return ret;
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
