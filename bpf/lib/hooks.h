/*
 * Where features plug into the programs. A feature (DNS redirect, egress gateway, SRv6) is one
 * header, lib/<feature>.h, holding its maps and helpers; it defines FEATURE_<NAME> and the hooks
 * it fills, and lib/features.h includes it. Every hook a feature does not fill is the no-op below.
 *
 * What a hook returns:
 *   CTX_ACT_OK (0)     carry on with the program;
 *   a negative DROP_*  drop, counted and reported with that reason (lib/exit.h finish);
 *   TC_ACT_REDIRECT    the hook called bpf_redirect*(): finish() counts it as redirected,
 *                      reports it (for a new flow) and returns it, so the redirect happens.
 *
 *   hook_dns_redirect(skb, f, ep)     from_pod, after conntrack, before policy.
 *   hook_egress_gw(skb, f, ep)        from_pod, after policy allowed the flow.
 *   hook_srv6_encap(skb, f, ep)       from_pod, after policy.
 *   hook_srv6_decap(skb, f)           from_net, first.
 *   hook_egress_gw_return(skb, f)     from_net, replies to gateway traffic.
 *   hook_snat(skb, f)                 to_net.
 */
#ifndef MERIDIAN_HOOKS_H
#define MERIDIAN_HOOKS_H

/* Before features.h: the feature headers' hooks return it. */
#define CTX_ACT_OK 0

#include "features.h"
#include "maps.h"
#include "parse.h"

#ifndef HOOK_DNS_REDIRECT
static __always_inline int hook_dns_redirect(struct __sk_buff *skb, const struct flow *f,
					     const struct endpoint_info *ep)
{
	return CTX_ACT_OK;
}
#endif

#ifndef HOOK_EGRESS_GW
static __always_inline int hook_egress_gw(struct __sk_buff *skb, const struct flow *f, const struct endpoint_info *ep)
{
	return CTX_ACT_OK;
}
#endif

#ifndef HOOK_SRV6_ENCAP
static __always_inline int hook_srv6_encap(struct __sk_buff *skb, const struct flow *f,
					   const struct endpoint_info *ep)
{
	return CTX_ACT_OK;
}
#endif

#ifndef HOOK_SRV6_DECAP
static __always_inline int hook_srv6_decap(struct __sk_buff *skb, const struct flow *f)
{
	return CTX_ACT_OK;
}
#endif

#ifndef HOOK_EGRESS_GW_RETURN
static __always_inline int hook_egress_gw_return(struct __sk_buff *skb, const struct flow *f)
{
	return CTX_ACT_OK;
}
#endif

#ifndef HOOK_SNAT
static __always_inline int hook_snat(struct __sk_buff *skb, const struct flow *f)
{
	return CTX_ACT_OK;
}
#endif

#endif
