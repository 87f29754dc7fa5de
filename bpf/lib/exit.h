/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one exit every program returns through.
 *
 *   int finish(skb, point, ret, f, ctx)
 *     ret < 0: a drop; counts -ret for this point, emits a dropped event, TC_ACT_SHOT.
 *     ret == TC_ACT_REDIRECT: a feature's hook handed the packet on (bpf_redirect*);
 *     counts REASON_REDIRECTED, emits a redirected event when ctx->notify is set, and
 *     returns TC_ACT_REDIRECT so the redirect takes effect.
 *     otherwise: forwarded; counts REASON_FORWARDED, emits a forwarded event when
 *     ctx->notify is set (a new flow's policy verdict), TC_ACT_OK.
 *
 * Packet counters are exact. Drop events are rate-limited per reason (DROP_EVENTS_PER_SEC
 * across all CPUs, per one-second window): a held-back event counts COUNTER_EVENTS_SUPPRESSED
 * and the next event of that reason carries how many were held back (flow_event.suppressed).
 * A full ring buffer counts COUNTER_EVENTS_LOST. Forwarded events are one per new flow
 * already (conntrack), so they are not limited.
 */
#ifndef MERIDIAN_EXIT_H
#define MERIDIAN_EXIT_H

#include "maps.h"
#include "parse.h"

/* Ring buffer records are only ever locals, which clang leaves out of BTF; this unused
 * global puts struct flow_event into every object's BTF so tools (and the layout test)
 * can read its layout. It costs one small .bss map per object. */
struct flow_event mdp_btf_flow_event __attribute__((unused));

#ifndef DROP_EVENTS_PER_SEC
#define DROP_EVENTS_PER_SEC 256
#endif
#define DROP_EVENTS_WINDOW_NS 1000000000ULL

/* One shared (not per-CPU) slot per reason, so the bound holds for the node. Updates race
 * benignly: under contention a window can let through a few more than the bound (at most one
 * per CPU), and the suppressed count is moved with atomic adds, so none is lost. */
struct drop_rate {
	__u64 window_start_ns;
	__u64 emitted;
	__u64 suppressed;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, REASON_MAX);
	__type(key, __u32);
	__type(value, struct drop_rate);
} mdp_drop_rate SEC(".maps");

struct verdict_ctx {
	__u32 ep_id;
	__u32 src_identity;
	__u32 dst_identity;
	__u32 rule_id;
	bool notify;
};

static __always_inline void count(__u32 reason, __u32 point, __u32 bytes)
{
	__u32 idx = reason * POINT_MAX + point;
	struct counter *c = bpf_map_lookup_elem(&mdp_counters, &idx);

	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

/* Whether a drop event of `reason` may go out now; *suppressed: how many were held back
 * before it (taken off the slot). */
static __always_inline bool drop_event_allowed(__u32 reason, __u32 point, __u32 *suppressed)
{
	struct drop_rate *r = bpf_map_lookup_elem(&mdp_drop_rate, &reason);
	__u64 now, held;

	*suppressed = 0;
	if (!r)
		return true;
	now = bpf_ktime_get_ns();
	if (now - r->window_start_ns >= DROP_EVENTS_WINDOW_NS) {
		r->window_start_ns = now;
		r->emitted = 0;
	}
	if (r->emitted >= DROP_EVENTS_PER_SEC) {
		__sync_fetch_and_add(&r->suppressed, 1);
		count(COUNTER_EVENTS_SUPPRESSED, point, 0);
		return false;
	}
	__sync_fetch_and_add(&r->emitted, 1);
	held = r->suppressed;
	if (held) {
		__sync_fetch_and_add(&r->suppressed, -held);
		*suppressed = held > 0xffffffff ? 0xffffffff : (__u32)held;
	}
	return true;
}

static __always_inline void emit(struct __sk_buff *skb, __u32 point, __u32 reason, const struct flow *f,
				 const struct verdict_ctx *v)
{
	__u32 suppressed = 0;
	struct flow_event *e;

	if (reason != REASON_FORWARDED && reason != REASON_REDIRECTED &&
	    !drop_event_allowed(reason, point, &suppressed))
		return;
	e = bpf_ringbuf_reserve(&mdp_events, sizeof(*e), 0);
	if (!e) {
		count(COUNTER_EVENTS_LOST, point, 0);
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->ep_id = v->ep_id;
	e->src_identity = v->src_identity;
	e->dst_identity = v->dst_identity;
	e->rule_id = v->rule_id;
	e->bytes = skb->len;
	e->ifindex = skb->ifindex;
	e->reason = reason;
	e->verdict = reason == REASON_FORWARDED	   ? EV_FORWARDED
		     : reason == REASON_REDIRECTED ? EV_REDIRECTED
						   : EV_DROPPED;
	e->point = point;
	e->family = f->family;
	e->protocol = f->protocol;
	e->sport = f->sport;
	e->dport = f->dport;
	e->pad = 0;
	e->suppressed = suppressed;
	__builtin_memcpy(e->saddr, f->saddr, 16);
	__builtin_memcpy(e->daddr, f->daddr, 16);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int finish(struct __sk_buff *skb, __u32 point, int ret, const struct flow *f,
				  const struct verdict_ctx *v)
{
	if (ret < 0) {
		__u32 reason = (__u32)(-ret);
		if (reason >= REASON_MAX)
			reason = REASON_MAX - 1;
		count(reason, point, skb->len);
		emit(skb, point, reason, f, v);
		return TC_ACT_SHOT;
	}
	if (ret == TC_ACT_REDIRECT) {
		count(REASON_REDIRECTED, point, skb->len);
		if (v->notify)
			emit(skb, point, REASON_REDIRECTED, f, v);
		return TC_ACT_REDIRECT;
	}
	count(REASON_FORWARDED, point, skb->len);
	if (v->notify)
		emit(skb, point, REASON_FORWARDED, f, v);
	return TC_ACT_OK;
}

#endif
