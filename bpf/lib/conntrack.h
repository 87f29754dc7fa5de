/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connection tracking (LRU hash; idle flows age out by LRU pressure).
 *
 *   int ct_lookup(f, direction, &rule_id)  CT_NEW, CT_ESTABLISHED (same direction as
 *                                          the packet that created the entry),
 *                                          CT_REPLY (the reverse of one), or the
 *                                          negative DROP_* reason of an entry the agent
 *                                          revoked after a policy change (CT_F_REVOKED)
 *   void ct_create(f, direction, rule_id)  record a flow the policy allowed
 *
 * Entries carry the direction that created them, so a flow allowed out of pod A does
 * not skip pod B's ingress policy on the same node.
 */
#ifndef MERIDIAN_CONNTRACK_H
#define MERIDIAN_CONNTRACK_H

#include "maps.h"
#include "parse.h"

#define CT_NEW 0
#define CT_ESTABLISHED 1
#define CT_REPLY 2

/* TCP, UDP and ICMP echo are tracked; other ICMP goes through policy every time. */
static __always_inline bool ct_trackable(const struct flow *f)
{
	return f->protocol == IPPROTO_TCP_ || f->protocol == IPPROTO_UDP_ || f->icmp_echo;
}

static __always_inline void ct_fill(struct ct_key *k, const struct flow *f, __u8 direction, bool reverse)
{
	__builtin_memset(k, 0, sizeof(*k));
	if (f->icmp_echo) {
		/* Echo request and reply share the identifier; the type is left out so the
		 * reply finds the request's entry. */
		__builtin_memcpy(k->saddr, reverse ? f->daddr : f->saddr, 16);
		__builtin_memcpy(k->daddr, reverse ? f->saddr : f->daddr, 16);
		k->sport = f->icmp_id;
	} else if (!reverse) {
		__builtin_memcpy(k->saddr, f->saddr, 16);
		__builtin_memcpy(k->daddr, f->daddr, 16);
		k->sport = f->sport;
		k->dport = f->dport;
	} else {
		__builtin_memcpy(k->saddr, f->daddr, 16);
		__builtin_memcpy(k->daddr, f->saddr, 16);
		k->sport = f->dport;
		k->dport = f->sport;
	}
	k->protocol = f->protocol;
	k->family = f->family;
	k->direction = direction;
}

/* Statistics only: plain adds (a rare lost update between CPUs is acceptable; atomic
 * adds cost more than the rest of the hit path). */
static __always_inline void ct_touch(struct ct_entry *e, const struct flow *f)
{
	e->last_seen_ns = bpf_ktime_get_ns();
	e->packets += 1;
	e->bytes += f->len;
}

static __always_inline int ct_hit(struct ct_entry *e, const struct flow *f, __u32 *rule_id, int state)
{
	ct_touch(e, f);
	*rule_id = e->rule_id;
	if (e->flags & CT_F_REVOKED)
		return e->flags & CT_F_DENIED ? -DROP_POLICY_DENY : -DROP_POLICY_DEFAULT;
	return state;
}

static __always_inline int ct_lookup(const struct flow *f, __u8 direction, __u32 *rule_id)
{
	struct ct_key k;
	struct ct_entry *e;

	if (!ct_trackable(f))
		return CT_NEW;

	ct_fill(&k, f, direction, false);
	e = bpf_map_lookup_elem(&mdp_ct, &k);
	if (e)
		return ct_hit(e, f, rule_id, CT_ESTABLISHED);
	ct_fill(&k, f, direction == DIR_INGRESS ? DIR_EGRESS : DIR_INGRESS, true);
	e = bpf_map_lookup_elem(&mdp_ct, &k);
	if (e)
		return ct_hit(e, f, rule_id, CT_REPLY);
	return CT_NEW;
}

static __always_inline void ct_create(const struct flow *f, __u8 direction, __u32 rule_id)
{
	struct ct_key k;
	struct ct_entry e = {};

	if (!ct_trackable(f))
		return;
	ct_fill(&k, f, direction, false);
	e.last_seen_ns = bpf_ktime_get_ns();
	e.packets = 1;
	e.bytes = f->len;
	e.rule_id = rule_id;
	bpf_map_update_elem(&mdp_ct, &k, &e, BPF_ANY);
}

#endif
