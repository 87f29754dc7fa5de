/* SPDX-License-Identifier: Apache-2.0 */
/*
 * L3/L4 policy.
 *
 *   int policy_check(ep, remote_identity, direction, f, &rule_id)
 *     Returns 0 to allow, -DROP_POLICY_DENY when an explicit deny matched,
 *     -DROP_POLICY_DEFAULT when the endpoint enforces policy in this direction and
 *     no rule allowed the packet. rule_id is the matching rule; for a default deny, the
 *     endpoint's enforcement marker (below), 0 if it has none.
 *
 * Enforcement marker: an L3-only entry (prefixlen POLICY_PREFIX_L3) for the reserved
 * remote identity IDENTITY_ENFORCEMENT, one per endpoint and enforced direction, whose
 * rule_id stands for the policies whose selection put the endpoint under default deny
 * there (the agent maps it back to their names). No packet carries that identity, so it
 * never decides a verdict; it is read only on the default-deny path, so it costs nothing
 * on allowed packets. Its verdict is 0 (neither allow nor deny).
 *
 * See struct policy_key for the key scheme: two LPM lookups (remote identity, then
 * IDENTITY_ANY); deny from either beats allow from either.
 */
#ifndef MERIDIAN_POLICY_H
#define MERIDIAN_POLICY_H

#include "maps.h"
#include "parse.h"

#define IDENTITY_ENFORCEMENT 0xffffffff

static __always_inline struct policy_entry *policy_lookup(__u32 ep_id, __u32 identity, __u8 direction,
							  const struct flow *f)
{
	struct policy_key k = {
		.prefixlen = POLICY_PREFIX_FULL,
		.ep_id = ep_id,
		.identity = identity,
		.direction = direction,
		.protocol = f->protocol,
		.dport = f->dport,
	};
	return bpf_map_lookup_elem(&mdp_policy, &k);
}

static __always_inline int policy_check(const struct endpoint_info *ep, __u32 remote_identity, __u8 direction,
					const struct flow *f, __u32 *rule_id)
{
	__u32 flag = direction == DIR_INGRESS ? EP_F_POLICY_INGRESS : EP_F_POLICY_EGRESS;
	struct policy_entry *exact, *any;

	*rule_id = 0;
	if (!(ep->flags & flag))
		return 0;

	exact = policy_lookup(ep->ep_id, remote_identity, direction, f);
	any = policy_lookup(ep->ep_id, IDENTITY_ANY, direction, f);

	if (exact && exact->verdict == VERDICT_DENY) {
		*rule_id = exact->rule_id;
		return -DROP_POLICY_DENY;
	}
	if (any && any->verdict == VERDICT_DENY) {
		*rule_id = any->rule_id;
		return -DROP_POLICY_DENY;
	}
	if (exact && exact->verdict == VERDICT_ALLOW) {
		*rule_id = exact->rule_id;
		return 0;
	}
	if (any && any->verdict == VERDICT_ALLOW) {
		*rule_id = any->rule_id;
		return 0;
	}
	any = policy_lookup(ep->ep_id, IDENTITY_ENFORCEMENT, direction, f);
	if (any)
		*rule_id = any->rule_id;
	return -DROP_POLICY_DEFAULT;
}

#endif
