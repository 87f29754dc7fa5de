/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The start both pod programs share.
 *
 *   int pod_begin(skb, f, v, direction, &ep)
 *     < 0: drop — a malformed packet or, from a pod, a source address that is not that
 *          pod's (*ep NULL); a flow the agent revoked after a policy change (*ep set,
 *          for the event).
 *       0: pass — not IP, IPv6 neighbour discovery, a conntrack hit, a link-local IPv6
 *          source from a pod, or a destination that is not a local endpoint.
 *       1: a new flow of endpoint *ep: policy decides.
 *
 * Conntrack comes before the endpoint lookup: an entry exists only because this
 * endpoint's policy allowed the flow (or it is that flow's reply), so established
 * packets skip a hash lookup (about a fifth of their cost in bench/datapath).
 */
#ifndef MERIDIAN_POD_H
#define MERIDIAN_POD_H

#include "conntrack.h"
#include "exit.h"
#include "lookup.h"
#include "parse.h"

static __always_inline int pod_begin(struct __sk_buff *skb, struct flow *f, struct verdict_ctx *v, __u8 direction,
				     struct endpoint_info **ep)
{
	int ret = parse_packet(skb, f);

	if (ret < 0)
		return ret;
	if (ret == PARSE_NOT_IP || is_icmpv6_nd(f))
		return 0;
	ret = ct_lookup(f, direction, &v->rule_id);
	if (ret == CT_ESTABLISHED || ret == CT_REPLY)
		return 0;
	if (direction == DIR_EGRESS) {
		/* What a pod sends must come from its own address on its own interface: anything else
		 * would slip past its policy (or borrow another pod's). Checked on new flows only; an
		 * established flow's entry already names the pod's address. */
		if (is_link_local_source(f))
			return 0;
		*ep = lookup_endpoint(f->family, f->saddr);
		if (!*ep || (*ep)->ifindex != skb->ifindex) {
			*ep = NULL;
			return -DROP_INVALID_SOURCE;
		}
	} else {
		*ep = lookup_endpoint(f->family, f->daddr);
		if (!*ep)
			return 0; /* not ours */
	}
	v->ep_id = (*ep)->ep_id;
	return ret < 0 ? ret : 1; /* revoked: drop; CT_NEW: policy */
}

#endif
