/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hook points for features that come later. Each is called at its place in the
 * program today and returns 0 ("carry on"); a feature fills its body in, returning a
 * negative DROP_* reason to drop, or a TC action through its own redirect. The maps
 * they will read are already declared and pinned (lib/maps.h), so an upgrade that
 * starts using them adopts existing state.
 *
 *   hook_dns_redirect(skb, f, ep)     from_pod, after conntrack, before policy:
 *                                     ep->flags & EP_F_DNS_REDIRECT and dport 53 →
 *                                     steer to mdp_dns_cfg.proxy_port (transparent proxy).
 *   hook_egress_gw(skb, f, ep)        from_pod, after policy allowed: mdp_egress_gw
 *                                     (ep id + dst prefix) → tunnel to the gateway node.
 *   hook_srv6_encap(skb, f, ep)       from_pod, after policy: mdp_srv6_vrf then
 *                                     mdp_srv6_pol → push an SRH / outer IPv6 with the SID.
 *   hook_srv6_decap(skb, f)           from_net, first: dst in mdp_srv6_sid → End.DT4/6.
 *   hook_egress_gw_return(skb, f)     from_net: reverse SNAT (mdp_snat) for gateway replies.
 *   hook_snat(skb, f)                 to_net: SNAT to the egress IP, recorded in mdp_snat.
 */
#ifndef MERIDIAN_HOOKS_H
#define MERIDIAN_HOOKS_H

#include "maps.h"
#include "parse.h"

static __always_inline int hook_dns_redirect(struct __sk_buff *skb, const struct flow *f,
					     const struct endpoint_info *ep)
{
	return 0;
}

static __always_inline int hook_egress_gw(struct __sk_buff *skb, const struct flow *f, const struct endpoint_info *ep)
{
	return 0;
}

static __always_inline int hook_srv6_encap(struct __sk_buff *skb, const struct flow *f,
					   const struct endpoint_info *ep)
{
	return 0;
}

static __always_inline int hook_srv6_decap(struct __sk_buff *skb, const struct flow *f)
{
	return 0;
}

static __always_inline int hook_egress_gw_return(struct __sk_buff *skb, const struct flow *f)
{
	return 0;
}

static __always_inline int hook_snat(struct __sk_buff *skb, const struct flow *f)
{
	return 0;
}

#endif
