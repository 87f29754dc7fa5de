/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Egress gateway: connections from selected pods to chosen external CIDRs leave the cluster
 * through a gateway node, with a fixed egress IP.
 *
 * Source node (hook_egress_gw, from_pod after policy allowed the flow):
 *   mdp_egw_policy  LPM {family, pod address (all 128 bits), destination prefix}
 *                   -> {policy id, flags}. Excluded CIDRs are entries of their own marked
 *                   EGW_F_EXCLUDED: the longest prefix wins, so an excluded /24 inside a
 *                   destination /16 passes as if there were no policy, and a destination /28
 *                   inside that excluded /24 is steered again.
 *   mdp_egw_gw      hash {policy id, family} -> {mode, next hop (the active gateway's node
 *                   address), egress IP}. One entry per policy and family, so moving a policy to
 *                   another gateway is one write, whatever its number of pods and CIDRs.
 *     EGW_GW_REMOTE   the active gateway is another node: the unmodified packet is steered to
 *                     it over the shared L2 (bpf_fib_lookup for the next hop, then bpf_redirect
 *                     with its MAC, or bpf_redirect_neigh while it is unresolved). The kernel's
 *                     routes would send it straight out with the pod's address instead.
 *     EGW_GW_LOCAL    this node is the active gateway: passed, to_net translates it.
 *     EGW_GW_NONE     no active gateway: dropped (DROP_EGRESS_NO_GATEWAY), never sent with the
 *                     pod's own address; a missing entry for a matched policy is the same.
 *   mdp_egw_flow    LRU {the flow as conntrack keys it} -> {policy id, mode, next hop}: the
 *                   decision taken for a connection's first packet, which its later packets
 *                   follow (from_pod's established path). A policy applied or moved later thus
 *                   changes new connections only; a connection older than the policy has no
 *                   entry and stays on its direct path (moving it would cut it at the remote).
 *                   Two exceptions keep the pod's address in: a connection whose policy has no
 *                   gateway now is dropped, and one whose first packet was dropped for want of a
 *                   gateway (pinned NONE: conntrack already passes its retransmissions) takes
 *                   the gateway there is when it retries.
 *
 * Gateway node (hook_snat, to_net; hook_egress_gw_return, from_net):
 *   The same mdp_egw_policy entries, written for every source pod of the policy (not only the
 *   local ones), decide which packets leaving the uplink are translated: a match whose policy is
 *   EGW_GW_LOCAL here. A node that only steers sees its steered packets pass to_net untouched
 *   (their policy is REMOTE there).
 *   mdp_egw_snat    LRU {saddr, daddr, sport, dport, protocol, family, direction} ->
 *                   {address, port, policy id, last seen}
 *     EGW_SNAT_OUT  pod -> remote, as the pod sent it: the egress IP and port it leaves with.
 *     EGW_SNAT_IN   remote -> egress IP, as the reply arrives: the pod address and port.
 *   Port allocation: the pod's own port when it is in [EGW_PORT_MIN, EGW_PORT_MAX] and free for
 *   that remote address and port, else up to EGW_PORT_TRIES random ports of the range. The range
 *   lies above Linux's default ephemeral range (32768-60999), so a mapping never takes a port the
 *   node's own sockets use when the egress IP is the node's address. No free port:
 *   DROP_EGRESS_NO_PORT. Reverse entry first (BPF_NOEXIST claims the port), then the forward one;
 *   another CPU that mapped the same flow first wins and the claimed port is given back.
 *   TCP, UDP and ICMP(v6) echo (the identifier stands in for the port; requests create mappings)
 *   are translated; other protocols and ICMP errors pass untouched.
 *   Checksums: IPv4 header (bpf_l3_csum_replace); TCP/UDP pseudo-header and port, ICMPv6
 *   pseudo-header, ICMP identifier (bpf_l4_csum_replace, also right for CHECKSUM_PARTIAL); a
 *   UDP checksum of 0 (none, IPv4) stays 0.
 *   The reply, its destination written back to the pod, is routed by the kernel to the pod's
 *   node over the peer routes (or to a local pod).
 *
 *   mdp_egw_stats   per-CPU array of struct counter by EGW_STAT_*.
 *
 * Failover (features/egress/health.ts): every agent probes the policy's gateways and rewrites
 * mdp_egw_gw with the first healthy one of the control plane's ordered list; new connections
 * follow it, pinned ones stay where they started. A gateway that is not active here carries
 * EGW_GW_F_TRANSLATE and translates packets that arrive steered from other nodes (their source is
 * no local pod), because source nodes may fail over a probe interval before it does.
 *
 * Not here yet: mirroring of mdp_egw_snat to standbys,
 * claiming a dedicated egress IP (ARP), ICMP errors about translated flows, encapsulation for
 * gateways that are not on the source node's L2 segment.
 */
#ifndef MERIDIAN_EGRESS_GW_H
#define MERIDIAN_EGRESS_GW_H

#include "common.h"
#include "conntrack.h"
#include "lookup.h"
#include "parse.h"

#define FEATURE_EGRESS_GW
#define HOOK_SNAT
#define HOOK_EGRESS_GW_RETURN

/* Drop reasons, a range of their own (48-51). */
#define DROP_EGRESS_NO_GATEWAY 48  /* the policy has no active gateway (for this family) */
#define DROP_EGRESS_UNREACHABLE 49 /* the FIB has no way to the gateway's node address */
#define DROP_EGRESS_NO_PORT 50     /* every port tried is taken for that remote */
#define DROP_EGRESS_SNAT 51        /* a helper failed while translating */

#define EGW_POLICY_MAX 65536
#define EGW_GW_MAX 8192
#define EGW_FLOW_MAX 131072
#define EGW_SNAT_MAX 262144

#define EGW_F_EXCLUDED 1

#define EGW_GW_NONE 0
#define EGW_GW_REMOTE 1
#define EGW_GW_LOCAL 2

/* This node is a gateway of the policy even while another one is active for it here (a standby,
 * or one a source node failed over to before this node's own health checks agreed): it
 * translates what other nodes steer to it, so a packet it is sent never leaves with the pod's
 * address; its own pods' new connections still follow mode. */
#define EGW_GW_F_TRANSLATE 1

#define EGW_SNAT_OUT 0
#define EGW_SNAT_IN 1

#define EGW_PORT_MIN 61000
#define EGW_PORT_MAX 65535
#define EGW_PORT_TRIES 16

/* A port is taken while its reverse entry lives. Entries are only freed by the LRU otherwise,
 * and one remote address and port has 4,536 ports to give: without reclaiming, the gateway
 * stopped translating new connections to a busy server after as many connections (bench/egress).
 * A TCP mapping that saw a FIN or RST is given again once quiet for EGW_SNAT_CLOSED_NS (the
 * remote may hold TIME_WAIT; Linux accepts a new SYN from the same address pair there); any
 * mapping quiet for EGW_SNAT_IDLE_NS (TCP) or EGW_SNAT_IDLE_OTHER_NS is taken for abandoned. */
#define EGW_SNAT_F_CLOSING 1
#define EGW_SNAT_CLOSED_NS (2ULL * 1000000000ULL)
#define EGW_SNAT_IDLE_NS (300ULL * 1000000000ULL)
#define EGW_SNAT_IDLE_OTHER_NS (60ULL * 1000000000ULL)

#define EGW_STAT_STEERED 0       /* sent to a remote gateway */
#define EGW_STAT_LOCAL 1         /* new flows passed to this node's SNAT */
#define EGW_STAT_SNAT 2          /* packets translated on the way out */
#define EGW_STAT_REVSNAT 3       /* replies translated back */
#define EGW_STAT_NEW_MAPPING 4   /* translations created */
#define EGW_STAT_PORT_RETRY 5    /* a mapping needed another port than the pod's */
#define EGW_STAT_EXCLUDED 6      /* new flows an excluded CIDR let pass */
#define EGW_STAT_RECLAIMED 7     /* ports of closed or abandoned mappings given again */
/* then the drop reasons at (reason - 48 + 8). */
#define EGW_STAT_DROP_BASE 8
#define EGW_STAT_MAX 12

struct egw_policy_key {
	__u32 prefixlen; /* 32 + 128 + destination prefix length */
	__u8 family;
	__u8 pad[3];
	__u8 saddr[16];
	__u8 daddr[16];
};

struct egw_policy_info {
	__u32 policy_id;
	__u32 flags; /* EGW_F_* */
};

struct egw_gw_key {
	__u32 policy_id;
	__u8 family;
	__u8 pad[3];
};

struct egw_gw {
	__u32 mode;  /* EGW_GW_* */
	__u32 flags; /* EGW_GW_F_* */
	__u8 nexthop[16];   /* REMOTE: the active gateway's node address */
	__u8 egress_ip[16]; /* LOCAL, or EGW_GW_F_TRANSLATE: the address translated flows leave with */
};

struct egw_flow {
	__u32 policy_id;
	__u32 mode;
	__u8 nexthop[16];
};

struct egw_snat_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u8 protocol;
	__u8 family;
	__u8 direction; /* EGW_SNAT_* */
	__u8 pad;
};

struct egw_snat_entry {
	__u8 addr[16];
	__be16 port;
	__u16 flags; /* EGW_SNAT_F_* (reverse entries) */
	__u32 policy_id;
	__u64 last_seen_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, EGW_POLICY_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct egw_policy_key);
	__type(value, struct egw_policy_info);
} mdp_egw_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EGW_GW_MAX);
	__type(key, struct egw_gw_key);
	__type(value, struct egw_gw);
} mdp_egw_gw SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EGW_FLOW_MAX);
	__type(key, struct ct_key);
	__type(value, struct egw_flow);
} mdp_egw_flow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EGW_SNAT_MAX);
	__type(key, struct egw_snat_key);
	__type(value, struct egw_snat_entry);
} mdp_egw_snat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EGW_STAT_MAX);
	__type(key, __u32);
	__type(value, struct counter);
} mdp_egw_stats SEC(".maps");

static __always_inline void egw_count(__u32 idx, __u32 bytes)
{
	struct counter *c = bpf_map_lookup_elem(&mdp_egw_stats, &idx);

	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

static __always_inline int egw_drop(struct __sk_buff *skb, int reason)
{
	egw_count(EGW_STAT_DROP_BASE + (reason - 48), skb->len);
	return -reason;
}

/* The policy entry for (pod address, destination), if any. */
static __always_inline struct egw_policy_info *egw_match(__u8 family, const __u8 *pod, const __u8 *dst)
{
	struct egw_policy_key k = {};

	k.prefixlen = 32 + 128 + (family == MDP_AF_INET ? 32 : 128);
	k.family = family;
	__builtin_memcpy(k.saddr, pod, 16);
	__builtin_memcpy(k.daddr, dst, 16);
	return bpf_map_lookup_elem(&mdp_egw_policy, &k);
}

static __always_inline struct egw_gw *egw_gateway(__u32 policy_id, __u8 family)
{
	struct egw_gw_key k = {};

	k.policy_id = policy_id;
	k.family = family;
	return bpf_map_lookup_elem(&mdp_egw_gw, &k);
}

/* Send the packet, unmodified at L3, to the node at `nexthop` (same family as the packet). */
static __always_inline int egw_steer(struct __sk_buff *skb, __u8 family, const __u8 *nexthop)
{
	struct bpf_fib_lookup fib = {};

	fib.ifindex = skb->ifindex;
	if (family == MDP_AF_INET) {
		fib.family = 2; /* AF_INET */
		__builtin_memcpy(&fib.ipv4_dst, nexthop, 4);
	} else {
		fib.family = 10; /* AF_INET6 */
		__builtin_memcpy(fib.ipv6_dst, nexthop, 16);
	}
	long rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);

	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		if (bpf_skb_store_bytes(skb, 0, fib.dmac, 6, 0) < 0 || bpf_skb_store_bytes(skb, 6, fib.smac, 6, 0) < 0)
			return egw_drop(skb, DROP_EGRESS_SNAT);
		egw_count(EGW_STAT_STEERED, skb->len);
		return bpf_redirect(fib.ifindex, 0);
	}
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		struct bpf_redir_neigh nh = {};

		if (family == MDP_AF_INET) {
			nh.nh_family = 2;
			__builtin_memcpy(&nh.ipv4_nh, nexthop, 4);
		} else {
			nh.nh_family = 10;
			__builtin_memcpy(nh.ipv6_nh, nexthop, 16);
		}
		egw_count(EGW_STAT_STEERED, skb->len);
		return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
	}
	return egw_drop(skb, DROP_EGRESS_UNREACHABLE);
}

/* Protocols the gateway can translate (ICMP other than echo carries no identifier). */
static __always_inline bool egw_translatable(const struct flow *f)
{
	return f->protocol == IPPROTO_TCP_ || f->protocol == IPPROTO_UDP_ || f->icmp_echo;
}

static __always_inline bool egw_is_echo_request(const struct flow *f)
{
	__u16 type = bpf_ntohs(f->dport);
	return f->icmp_echo && (type == 8 || type == 128);
}

/*
 * New flow of endpoint ep, or (ep NULL) a packet from_pod passed as established: steer it to the
 * policy's active gateway, pass it, or drop it.
 */
static __always_inline int egw_from_pod(struct __sk_buff *skb, const struct flow *f, const struct endpoint_info *ep)
{
	if (f->family != MDP_AF_INET && f->family != MDP_AF_INET6)
		return CTX_ACT_OK;
	if (!ep) {
		/* Later packets of a connection go where its first one went. */
		if (!ct_trackable(f))
			return CTX_ACT_OK;
		struct ct_key ck;
		ct_fill(&ck, f, DIR_EGRESS, false);
		struct egw_flow *fl = bpf_map_lookup_elem(&mdp_egw_flow, &ck);
		if (!fl)
			return CTX_ACT_OK; /* older than the policy: its direct path */
		/* The policy has no gateway now: drop, never let the pod's address out. */
		struct egw_gw *now = egw_gateway(fl->policy_id, f->family);
		if (!now || (now->mode != EGW_GW_REMOTE && now->mode != EGW_GW_LOCAL))
			return egw_drop(skb, DROP_EGRESS_NO_GATEWAY);
		if (fl->mode == EGW_GW_NONE) {
			/* Its first packet was dropped for want of a gateway (conntrack passes the
			 * retransmission as established): it takes the gateway there is now. */
			fl->mode = now->mode;
			__builtin_memcpy(fl->nexthop, now->nexthop, 16);
		}
		if (fl->mode != EGW_GW_REMOTE)
			return CTX_ACT_OK;
		__u8 nh[16];
		__builtin_memcpy(nh, fl->nexthop, 16);
		return egw_steer(skb, f->family, nh);
	}
	if (is_icmpv6_nd(f))
		return CTX_ACT_OK;
	struct egw_policy_info *pol = egw_match(f->family, f->saddr, f->daddr);
	if (!pol)
		return CTX_ACT_OK;
	if (pol->flags & EGW_F_EXCLUDED) {
		egw_count(EGW_STAT_EXCLUDED, skb->len);
		return CTX_ACT_OK;
	}
	__u32 policy_id = pol->policy_id;
	struct egw_gw *gw = egw_gateway(policy_id, f->family);
	struct egw_flow fl = {};
	fl.policy_id = policy_id;
	if (gw && (gw->mode == EGW_GW_REMOTE || gw->mode == EGW_GW_LOCAL)) {
		fl.mode = gw->mode;
		__builtin_memcpy(fl.nexthop, gw->nexthop, 16);
	}
	/* Pinned even when dropped: conntrack has the flow now (from_pod created it before this
	 * hook), so its retransmissions come back as established and must meet the policy too. */
	if (ct_trackable(f)) {
		struct ct_key ck;
		ct_fill(&ck, f, DIR_EGRESS, false);
		bpf_map_update_elem(&mdp_egw_flow, &ck, &fl, BPF_ANY);
	}
	if (fl.mode == EGW_GW_NONE)
		return egw_drop(skb, DROP_EGRESS_NO_GATEWAY);
	if (fl.mode == EGW_GW_LOCAL) {
		egw_count(EGW_STAT_LOCAL, skb->len);
		return CTX_ACT_OK;
	}
	return egw_steer(skb, f->family, fl.nexthop);
}

#ifndef HOOK_EGRESS_GW
#define HOOK_EGRESS_GW
static __always_inline int hook_egress_gw(struct __sk_buff *skb, const struct flow *f, const struct endpoint_info *ep)
{
	return egw_from_pod(skb, f, ep);
}
#endif

/* Where the checksum of the flow's L4 header sits, and whether it covers the pseudo-header. */
static __always_inline __u32 egw_csum_off(const struct flow *f, bool *pseudo)
{
	*pseudo = f->protocol != IPPROTO_ICMP_;
	if (f->protocol == IPPROTO_TCP_)
		return f->l4_off + 16;
	if (f->protocol == IPPROTO_UDP_)
		return f->l4_off + 6;
	return f->l4_off + 2; /* ICMP, ICMPv6 */
}

/*
 * Rewrite the source (src true) or destination address and port of the flow's packet, fixing
 * every checksum that covers them. For ICMP echo the "port" is the identifier.
 */
static __always_inline int egw_rewrite(struct __sk_buff *skb, const struct flow *f, bool src, const __u8 *addr,
				       __be16 port)
{
	bool pseudo;
	__u32 csum_off = egw_csum_off(f, &pseudo);
	__u64 l4flags = f->protocol == IPPROTO_UDP_ ? BPF_F_MARK_MANGLED_0 : 0;
	__be16 old_port;
	__u32 port_off;

	if (f->icmp_echo) {
		old_port = f->icmp_id;
		port_off = f->l4_off + 4;
	} else {
		old_port = src ? f->sport : f->dport;
		port_off = f->l4_off + (src ? 0 : 2);
	}

	if (f->family == MDP_AF_INET) {
		__be32 old_a, new_a;
		__u32 addr_off = ETH_HLEN + (src ? 12 : 16);
		__builtin_memcpy(&old_a, src ? f->saddr : f->daddr, 4);
		__builtin_memcpy(&new_a, addr, 4);
		if (bpf_l3_csum_replace(skb, ETH_HLEN + 10, old_a, new_a, 4) < 0)
			return -DROP_EGRESS_SNAT;
		if (pseudo && bpf_l4_csum_replace(skb, csum_off, old_a, new_a, l4flags | BPF_F_PSEUDO_HDR | 4) < 0)
			return -DROP_EGRESS_SNAT;
		if (bpf_skb_store_bytes(skb, addr_off, &new_a, 4, 0) < 0)
			return -DROP_EGRESS_SNAT;
	} else {
		__u8 old_a[16], new_a[16];
		__u32 addr_off = ETH_HLEN + (src ? 8 : 24);
		__builtin_memcpy(old_a, src ? f->saddr : f->daddr, 16);
		__builtin_memcpy(new_a, addr, 16);
		__s64 diff = bpf_csum_diff((__be32 *)old_a, 16, (__be32 *)new_a, 16, 0);
		if (diff < 0)
			return -DROP_EGRESS_SNAT;
		if (bpf_l4_csum_replace(skb, csum_off, 0, (__u32)diff, l4flags | BPF_F_PSEUDO_HDR) < 0)
			return -DROP_EGRESS_SNAT;
		if (bpf_skb_store_bytes(skb, addr_off, new_a, 16, 0) < 0)
			return -DROP_EGRESS_SNAT;
	}
	if (port != old_port) {
		if (bpf_l4_csum_replace(skb, csum_off, old_port, port, l4flags | 2) < 0)
			return -DROP_EGRESS_SNAT;
		if (bpf_skb_store_bytes(skb, port_off, &port, 2, 0) < 0)
			return -DROP_EGRESS_SNAT;
	}
	return 0;
}

/* The forward (OUT) key of a packet leaving the uplink. */
static __always_inline void egw_out_key(struct egw_snat_key *k, const struct flow *f)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->saddr, f->saddr, 16);
	__builtin_memcpy(k->daddr, f->daddr, 16);
	if (f->icmp_echo) {
		k->sport = f->icmp_id;
	} else {
		k->sport = f->sport;
		k->dport = f->dport;
	}
	k->protocol = f->protocol;
	k->family = f->family;
	k->direction = EGW_SNAT_OUT;
}

/* The reverse (IN) key a reply to (egress, port) from the flow's remote end carries. */
static __always_inline void egw_in_key(struct egw_snat_key *k, const struct flow *f, const __u8 *egress, __be16 port)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->saddr, f->daddr, 16);
	__builtin_memcpy(k->daddr, egress, 16);
	if (!f->icmp_echo)
		k->sport = f->dport;
	k->dport = port;
	k->protocol = f->protocol;
	k->family = f->family;
	k->direction = EGW_SNAT_IN;
}

/* The mapping holding reverse key rk is closed or abandoned: remove both its entries (true). */
static __always_inline bool egw_snat_reclaim(const struct egw_snat_key *rk, __u8 protocol, __u64 now)
{
	struct egw_snat_entry *old = bpf_map_lookup_elem(&mdp_egw_snat, rk);

	if (!old)
		return true; /* gone meanwhile: try again */
	__u64 quiet = now - old->last_seen_ns;
	__u64 limit = protocol != IPPROTO_TCP_ ? EGW_SNAT_IDLE_OTHER_NS
		      : (old->flags & EGW_SNAT_F_CLOSING) ? EGW_SNAT_CLOSED_NS
							  : EGW_SNAT_IDLE_NS;
	if (now < old->last_seen_ns || quiet < limit)
		return false;
	/* Its forward key: the pod's address and port, to the same remote. */
	struct egw_snat_key fk = {};
	__builtin_memcpy(fk.saddr, old->addr, 16);
	__builtin_memcpy(fk.daddr, rk->saddr, 16);
	fk.sport = old->port;
	fk.dport = rk->sport;
	fk.protocol = rk->protocol;
	fk.family = rk->family;
	fk.direction = EGW_SNAT_OUT;
	bpf_map_delete_elem(&mdp_egw_snat, &fk);
	bpf_map_delete_elem(&mdp_egw_snat, rk);
	egw_count(EGW_STAT_RECLAIMED, 0);
	return true;
}

/* A FIN or RST of a translated TCP flow: its port may be given again once it is quiet. */
static __always_inline void egw_note_close(const struct flow *f, struct egw_snat_entry *rev)
{
	if (rev && f->protocol == IPPROTO_TCP_ && (f->tcp_flags & 0x05))
		rev->flags |= EGW_SNAT_F_CLOSING;
}

/* A translation for a new flow: the port claimed in the reverse entry, then the forward one. */
static __always_inline int egw_snat_new(const struct flow *f, const struct egw_snat_key *out, const __u8 *egress,
					__u32 policy_id, struct egw_snat_entry *res)
{
	__be16 orig = f->icmp_echo ? f->icmp_id : f->sport;
	__u16 horig = bpf_ntohs(orig);
	struct egw_snat_entry back = {};
	struct egw_snat_key rk;
	__u64 now = bpf_ktime_get_ns();

	__builtin_memcpy(back.addr, f->saddr, 16);
	back.port = orig;
	back.policy_id = policy_id;
	back.last_seen_ns = now;

	for (int i = 0; i < EGW_PORT_TRIES; i++) {
		__u16 port;
		if (i == 0 && horig >= EGW_PORT_MIN && horig <= EGW_PORT_MAX)
			port = horig;
		else
			port = EGW_PORT_MIN + (__u16)(bpf_get_prandom_u32() % (EGW_PORT_MAX - EGW_PORT_MIN + 1));
		egw_in_key(&rk, f, egress, bpf_htons(port));
		if (bpf_map_update_elem(&mdp_egw_snat, &rk, &back, BPF_NOEXIST) != 0) {
			if (!egw_snat_reclaim(&rk, f->protocol, now))
				continue;
			if (bpf_map_update_elem(&mdp_egw_snat, &rk, &back, BPF_NOEXIST) != 0)
				continue;
		}
		struct egw_snat_entry fwd = {};
		__builtin_memcpy(fwd.addr, egress, 16);
		fwd.port = bpf_htons(port);
		fwd.policy_id = policy_id;
		fwd.last_seen_ns = now;
		if (bpf_map_update_elem(&mdp_egw_snat, out, &fwd, BPF_NOEXIST) != 0) {
			/* Another CPU translated this flow meanwhile: use its mapping, free our port. */
			bpf_map_delete_elem(&mdp_egw_snat, &rk);
			struct egw_snat_entry *e = bpf_map_lookup_elem(&mdp_egw_snat, out);
			if (!e)
				return -DROP_EGRESS_SNAT;
			__builtin_memcpy(res, e, sizeof(*res));
			return 0;
		}
		if (port != horig)
			egw_count(EGW_STAT_PORT_RETRY, 0);
		egw_count(EGW_STAT_NEW_MAPPING, 0);
		__builtin_memcpy(res, &fwd, sizeof(*res));
		return 0;
	}
	return -DROP_EGRESS_NO_PORT;
}

/* to_net: translate what a local-gateway policy's pods send out of the uplink. */
static __always_inline int hook_snat(struct __sk_buff *skb, const struct flow *f)
{
	if (!egw_translatable(f))
		return CTX_ACT_OK;
	struct egw_snat_key out;
	struct egw_snat_entry m;
	egw_out_key(&out, f);
	struct egw_snat_entry *e = bpf_map_lookup_elem(&mdp_egw_snat, &out);
	if (e) {
		e->last_seen_ns = bpf_ktime_get_ns();
		__builtin_memcpy(&m, e, sizeof(m));
		/* The LRU may have evicted the reverse entry of a one-way flow: put it back. */
		struct egw_snat_key rk;
		egw_in_key(&rk, f, m.addr, m.port);
		struct egw_snat_entry *rev = bpf_map_lookup_elem(&mdp_egw_snat, &rk);
		if (rev) {
			rev->last_seen_ns = m.last_seen_ns;
			egw_note_close(f, rev);
		} else {
			struct egw_snat_entry back = {};
			__builtin_memcpy(back.addr, f->saddr, 16);
			back.port = f->icmp_echo ? f->icmp_id : f->sport;
			back.policy_id = m.policy_id;
			back.last_seen_ns = m.last_seen_ns;
			bpf_map_update_elem(&mdp_egw_snat, &rk, &back, BPF_NOEXIST);
		}
	} else {
		if (f->icmp_echo && !egw_is_echo_request(f))
			return CTX_ACT_OK;
		struct egw_policy_info *pol = egw_match(f->family, f->saddr, f->daddr);
		if (!pol || (pol->flags & EGW_F_EXCLUDED))
			return CTX_ACT_OK;
		__u32 policy_id = pol->policy_id;
		struct egw_gw *gw = egw_gateway(policy_id, f->family);
		/* Not the active gateway here: a packet this node steered, or one older than the policy;
		 * unless this node is a gateway of the policy and the packet came from another node. */
		if (!gw)
			return CTX_ACT_OK;
		if (gw->mode != EGW_GW_LOCAL &&
		    (!(gw->flags & EGW_GW_F_TRANSLATE) || lookup_endpoint(f->family, f->saddr)))
			return CTX_ACT_OK;
		__u8 egress[16];
		__builtin_memcpy(egress, gw->egress_ip, 16);
		__u64 e0, e1;
		__builtin_memcpy(&e0, egress, 8);
		__builtin_memcpy(&e1, egress + 8, 8);
		if ((e0 | e1) == 0)
			return egw_drop(skb, DROP_EGRESS_NO_GATEWAY);
		int ret = egw_snat_new(f, &out, egress, policy_id, &m);
		if (ret < 0)
			return egw_drop(skb, -ret);
	}
	int ret = egw_rewrite(skb, f, true, m.addr, m.port);
	if (ret < 0)
		return egw_drop(skb, -ret);
	egw_count(EGW_STAT_SNAT, skb->len);
	return CTX_ACT_OK;
}

/* from_net: a reply to a translated flow gets the pod's address and port back. */
static __always_inline int hook_egress_gw_return(struct __sk_buff *skb, const struct flow *f)
{
	if (!egw_translatable(f))
		return CTX_ACT_OK;
	struct egw_snat_key rk = {};
	__builtin_memcpy(rk.saddr, f->saddr, 16);
	__builtin_memcpy(rk.daddr, f->daddr, 16);
	if (f->icmp_echo) {
		rk.dport = f->icmp_id;
	} else {
		rk.sport = f->sport;
		rk.dport = f->dport;
	}
	rk.protocol = f->protocol;
	rk.family = f->family;
	rk.direction = EGW_SNAT_IN;
	struct egw_snat_entry *e = bpf_map_lookup_elem(&mdp_egw_snat, &rk);
	if (!e)
		return CTX_ACT_OK;
	e->last_seen_ns = bpf_ktime_get_ns();
	egw_note_close(f, e);
	__u8 pod[16];
	__builtin_memcpy(pod, e->addr, 16);
	__be16 port = e->port;
	int ret = egw_rewrite(skb, f, false, pod, port);
	if (ret < 0)
		return egw_drop(skb, -ret);
	egw_count(EGW_STAT_REVSNAT, skb->len);
	return CTX_ACT_OK;
}

#endif
