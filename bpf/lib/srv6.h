/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SRv6 L3VPN: the node as an SRv6 PE.
 *
 * Encapsulation (hook_srv6_encap, from_pod after policy, and for established flows too):
 *   mdp_srv6_vrf    LPM {ifindex of the pod's host veth, family, destination} -> {vrf_id, flags}
 *                   A member pod is keyed by its veth, not its address: VRFs may share address
 *                   space. Prefix 0/0 puts all the pod's traffic in the VRF (non-strict: what no
 *                   policy covers is routed as usual); a VRF with destination CIDRs writes strict
 *                   entries (no policy = drop, DROP_SRV6_NO_POLICY).
 *   mdp_srv6_policy LPM {vrf_id, family, destination} -> {mode, segment list (first SID first)}
 *   mdp_srv6_cfg    array[1] {the node's SRv6 source address, MTU of the uplink}
 *   H.Encaps.Red with one SID: outer IPv6 only, DA = the SID. H.Encaps.Red with n > 1: an SRH
 *   with the n-1 SIDs after the first (RFC 8986 5.2). H.Encaps: an SRH with all n (SL = n-1).
 *   Outer: traffic class copied from the inner packet, flow label from the skb hash (ECMP),
 *   hop limit 64, next header 4 (IPv4) or 41 (IPv6). The inner TTL / hop limit is decremented
 *   (the node routes the packet into the VPN); at 1 or less the packet is dropped.
 *   MTU: the choice is a route MTU lowered by the overhead for member pods (so TCP picks an MSS
 *   that fits; e2e/lab/srv6.test.ts sets it, the CNI does not yet); a non-GSO packet that would still exceed the uplink MTU after
 *   encapsulation is dropped (DROP_SRV6_OVERSIZE) rather than sent to be dropped silently at
 *   the next hop. GSO packets: bpf_skb_adjust_room lowers gso_size by the overhead.
 *   The outer packet is routed by bpf_fib_lookup + bpf_redirect / bpf_redirect_neigh; when
 *   the FIB cannot say (no forwarding on the device, no route yet), the encapsulated packet is
 *   handed to the stack, which routes it the same way.
 *
 * Decapsulation (hook_srv6_decap, from_net first):
 *   mdp_srv6_sid    hash {SID} -> {behaviour End.DT4/DT6/DT46, vrf_id}: the node's local SIDs
 *   mdp_srv6_vrfep  hash {vrf_id, family, address} -> {ifindex, pod MAC, host veth MAC}
 *   A destination that is not a local SID passes untouched (an SRH there is counted as
 *   transit). SRH checks as RFC 8754 4.3.1 / RFC 8986 4.4-4.8: a header cut short or whose
 *   Hdr Ext Len cannot hold Last Entry + 1 segments: DROP_SRV6_BAD_SRH; Segments Left > Last
 *   Entry + 1, or Segments Left != 0 at an End.DT* SID: DROP_SRV6_SEGLEFT (the RFCs' ICMP
 *   Parameter Problem is not sent; the drop is counted and reported). An inner protocol the
 *   behaviour does not take (IPv6 at End.DT4, ...) or other extension headers:
 *   DROP_SRV6_BAD_INNER. An inner destination no member of the VRF owns: DROP_SRV6_NO_VRF_MATCH.
 *   The inner TTL / hop limit is decremented (IPv4 checksum updated) and the packet redirected
 *   to the pod's veth (to_pod's ingress policy still runs there).
 *
 *   mdp_srv6_stats  per-CPU array of struct counter by SRV6_STAT_*: encapsulated, decapsulated,
 *                   transit, and each drop (also counted by finish() under its reason).
 */
#ifndef MERIDIAN_SRV6_H
#define MERIDIAN_SRV6_H

#include "common.h"
#include "parse.h"

#define FEATURE_SRV6
#define HOOK_SRV6_ENCAP
#define HOOK_SRV6_DECAP

/* Segments a policy may hold (the agent refuses longer lists). */
#define SRV6_MAX_SEGS 4
#define SRV6_VRF_MAX 65536
#define SRV6_POLICY_MAX 65536
#define SRV6_SID_MAX 4096
#define SRV6_VRFEP_MAX 65536

/* Drop reasons, in a range of their own (40-47) so features do not collide. */
#define DROP_SRV6_NO_POLICY 40    /* strict VRF entry, no policy for the destination */
#define DROP_SRV6_OVERSIZE 41     /* would exceed the uplink MTU once encapsulated */
#define DROP_SRV6_HOP_LIMIT 42    /* inner TTL / hop limit would reach 0 */
#define DROP_SRV6_ENCAP 43        /* bad policy, no source address, a helper failed */
#define DROP_SRV6_NO_VRF_MATCH 44 /* decap: no member of the VRF owns the inner destination */
#define DROP_SRV6_BAD_SRH 45      /* truncated or inconsistent SRH */
#define DROP_SRV6_SEGLEFT 46      /* Segments Left error (RFC 8754 4.3.1, RFC 8986 4.4-4.8) */
#define DROP_SRV6_BAD_INNER 47    /* inner protocol the behaviour does not take, or malformed */

#define SRV6_STAT_ENCAP 0
#define SRV6_STAT_DECAP 1
#define SRV6_STAT_TRANSIT 2 /* SRH present, destination not a local SID: passed */
/* SRV6_STAT_ENCAP..TRANSIT, then the drop reasons at (reason - 40 + 8). */
#define SRV6_STAT_DROP_BASE 8
#define SRV6_STAT_MAX 16

#define SRV6_MODE_ENCAPS 0     /* H.Encaps: SRH always */
#define SRV6_MODE_ENCAPS_RED 1 /* H.Encaps.Red */

#define SRV6_END_DT4 1
#define SRV6_END_DT6 2
#define SRV6_END_DT46 3

#define SRV6_VRF_F_STRICT 1

#define SRV6_HOP_LIMIT 64
#define IPPROTO_IPIP_ 4
#define IPPROTO_IPV6_ 41

struct srv6_vrf_key {
	__u32 prefixlen; /* 64 + IP prefix length */
	__u32 ifindex;
	__u8 family;
	__u8 pad[3];
	__u8 addr[16];
};

struct srv6_vrf_info {
	__u32 vrf_id;
	__u32 flags; /* SRV6_VRF_F_* */
};

struct srv6_policy_key {
	__u32 prefixlen; /* 64 + IP prefix length */
	__u32 vrf_id;
	__u8 family;
	__u8 pad[3];
	__u8 addr[16];
};

struct srv6_policy {
	__u8 nsegs;
	__u8 mode; /* SRV6_MODE_* */
	__u16 pad;
	__u32 source; /* where it came from (user space: 1 static, 2 BGP); the datapath ignores it */
	__u8 segs[SRV6_MAX_SEGS][16];
};

struct srv6_sid_key {
	__u8 sid[16];
};

struct srv6_sid_info {
	__u32 vrf_id;
	__u8 behavior; /* SRV6_END_* */
	__u8 pad[3];
};

struct srv6_vrfep_key {
	__u32 vrf_id;
	__u8 family;
	__u8 pad[3];
	__u8 addr[16];
};

struct srv6_vrfep {
	__u32 ifindex;
	__u8 mac[6];  /* the pod's MAC; zero: resolve with bpf_redirect_neigh */
	__u8 hmac[6]; /* the host veth's MAC */
};

struct srv6_cfg {
	__u8 src[16];
	__u32 mtu; /* uplink MTU (L3); 0: not checked here */
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SRV6_VRF_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct srv6_vrf_key);
	__type(value, struct srv6_vrf_info);
} mdp_srv6_vrf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SRV6_POLICY_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct srv6_policy_key);
	__type(value, struct srv6_policy);
} mdp_srv6_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SRV6_SID_MAX);
	__type(key, struct srv6_sid_key);
	__type(value, struct srv6_sid_info);
} mdp_srv6_sid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SRV6_VRFEP_MAX);
	__type(key, struct srv6_vrfep_key);
	__type(value, struct srv6_vrfep);
} mdp_srv6_vrfep SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct srv6_cfg);
} mdp_srv6_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SRV6_STAT_MAX);
	__type(key, __u32);
	__type(value, struct counter);
} mdp_srv6_stats SEC(".maps");

static __always_inline void srv6_count(__u32 idx, __u32 bytes)
{
	struct counter *c = bpf_map_lookup_elem(&mdp_srv6_stats, &idx);

	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

static __always_inline int srv6_drop(struct __sk_buff *skb, int reason)
{
	srv6_count(SRV6_STAT_DROP_BASE + (reason - 40), skb->len);
	return -reason;
}

struct srv6_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
	__u8 type;
	__u8 segments_left;
	__u8 last_entry;
	__u8 flags;
	__be16 tag;
};

/* Decrement the TTL / hop limit of the IP header at off. Returns 0 or a negative drop. */
static __always_inline int srv6_dec_ttl(struct __sk_buff *skb, __u32 off, __u8 family)
{
	__u8 ttl;

	if (family == MDP_AF_INET) {
		if (bpf_skb_load_bytes(skb, off + 8, &ttl, 1) < 0)
			return -DROP_SRV6_BAD_INNER;
		if (ttl <= 1)
			return -DROP_SRV6_HOP_LIMIT;
		/* The checksum covers TTL as the high byte of the 16-bit word it shares with protocol. */
		__be16 old = bpf_htons((__u16)ttl << 8), new = bpf_htons((__u16)(ttl - 1) << 8);
		__u8 nt = ttl - 1;
		if (bpf_l3_csum_replace(skb, off + 10, old, new, 2) < 0)
			return -DROP_SRV6_ENCAP;
		if (bpf_skb_store_bytes(skb, off + 8, &nt, 1, 0) < 0)
			return -DROP_SRV6_ENCAP;
		return 0;
	}
	if (bpf_skb_load_bytes(skb, off + 7, &ttl, 1) < 0)
		return -DROP_SRV6_BAD_INNER;
	if (ttl <= 1)
		return -DROP_SRV6_HOP_LIMIT;
	ttl -= 1;
	if (bpf_skb_store_bytes(skb, off + 7, &ttl, 1, 0) < 0)
		return -DROP_SRV6_ENCAP;
	return 0;
}

/* Route the (outer) packet now at ETH_HLEN by the kernel FIB. */
static __always_inline int srv6_route_out(struct __sk_buff *skb, const __u8 *dst, const __u8 *src, __u32 l3len)
{
	struct bpf_fib_lookup fib = {};

	fib.family = 10; /* AF_INET6 */
	fib.ifindex = skb->ifindex;
	fib.tot_len = skb->gso_segs > 1 || skb->gso_size ? 0 : (__u16)l3len;
	__builtin_memcpy(fib.ipv6_src, src, 16);
	__builtin_memcpy(fib.ipv6_dst, dst, 16);
	long rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);

	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		if (bpf_skb_store_bytes(skb, 0, fib.dmac, 6, 0) < 0 || bpf_skb_store_bytes(skb, 6, fib.smac, 6, 0) < 0)
			return -DROP_SRV6_ENCAP;
		return bpf_redirect(fib.ifindex, 0);
	}
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		struct bpf_redir_neigh nh = {};

		nh.nh_family = 10;
		__builtin_memcpy(nh.ipv6_nh, fib.ipv6_dst, 16);
		return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
	}
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return -DROP_SRV6_OVERSIZE;
	/* Forwarding off on this device, no route yet...: the stack routes the outer packet. */
	return CTX_ACT_OK;
}

static __always_inline int srv6_encap(struct __sk_buff *skb, const struct flow *f)
{
	if (f->family != MDP_AF_INET && f->family != MDP_AF_INET6)
		return CTX_ACT_OK;
	if (is_icmpv6_nd(f) || is_link_local_source(f))
		return CTX_ACT_OK;

	struct srv6_vrf_key vk = {};
	vk.prefixlen = 64 + (f->family == MDP_AF_INET ? 32 : 128);
	vk.ifindex = skb->ifindex;
	vk.family = f->family;
	__builtin_memcpy(vk.addr, f->daddr, 16);
	struct srv6_vrf_info *vrf = bpf_map_lookup_elem(&mdp_srv6_vrf, &vk);
	if (!vrf)
		return CTX_ACT_OK;

	struct srv6_policy_key pk = {};
	pk.prefixlen = vk.prefixlen;
	pk.vrf_id = vrf->vrf_id;
	pk.family = f->family;
	__builtin_memcpy(pk.addr, f->daddr, 16);
	struct srv6_policy *pol = bpf_map_lookup_elem(&mdp_srv6_policy, &pk);
	if (!pol) {
		if (vrf->flags & SRV6_VRF_F_STRICT)
			return srv6_drop(skb, DROP_SRV6_NO_POLICY);
		return CTX_ACT_OK;
	}
	__u32 zero = 0;
	struct srv6_cfg *cfg = bpf_map_lookup_elem(&mdp_srv6_cfg, &zero);
	if (!cfg)
		return srv6_drop(skb, DROP_SRV6_ENCAP);
	__u64 s0, s1;
	__builtin_memcpy(&s0, cfg->src, 8);
	__builtin_memcpy(&s1, cfg->src + 8, 8);
	__u32 n = pol->nsegs;
	if ((s0 | s1) == 0 || n == 0 || n > SRV6_MAX_SEGS)
		return srv6_drop(skb, DROP_SRV6_ENCAP);

	/* Segments in the SRH: n (H.Encaps), n-1 (H.Encaps.Red; none for one SID). */
	__u32 in_srh = pol->mode == SRV6_MODE_ENCAPS_RED ? n - 1 : n;
	__u32 srh_len = in_srh ? 8 + 16 * in_srh : 0;
	__u32 overhead = 40 + srh_len;
	__u32 inner_len = skb->len - ETH_HLEN;
	bool gso = skb->gso_size != 0;
	if (!gso && cfg->mtu && inner_len + overhead > cfg->mtu)
		return srv6_drop(skb, DROP_SRV6_OVERSIZE);

	/* Inner traffic class, for the outer header. */
	__u8 ih[2];
	if (bpf_skb_load_bytes(skb, ETH_HLEN, ih, 2) < 0)
		return srv6_drop(skb, DROP_SRV6_BAD_INNER);
	__u8 tclass = f->family == MDP_AF_INET ? ih[1] : (__u8)((ih[0] << 4) | (ih[1] >> 4));

	int ret = srv6_dec_ttl(skb, ETH_HLEN, f->family);
	if (ret < 0)
		return srv6_drop(skb, -ret);

	if (bpf_skb_adjust_room(skb, overhead, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV6) < 0)
		return srv6_drop(skb, DROP_SRV6_ENCAP);

	__u8 inner_proto = f->family == MDP_AF_INET ? IPPROTO_IPIP_ : IPPROTO_IPV6_;
	struct ipv6hdr ip6 = {};
	__u32 label = bpf_get_hash_recalc(skb) & 0xfffff;
	__u32 w0 = (6u << 28) | ((__u32)tclass << 20) | label;
	w0 = bpf_htonl(w0);
	__builtin_memcpy(&ip6, &w0, 4);
	ip6.payload_len = bpf_htons((__u16)(inner_len + srh_len));
	ip6.nexthdr = srh_len ? NEXTHDR_ROUTING : inner_proto;
	ip6.hop_limit = SRV6_HOP_LIMIT;
	__builtin_memcpy(&ip6.saddr, cfg->src, 16);
	__builtin_memcpy(&ip6.daddr, pol->segs[0], 16);
	if (bpf_skb_store_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6), 0) < 0)
		return srv6_drop(skb, DROP_SRV6_ENCAP);

	if (srh_len) {
		struct srv6_hdr srh = {};
		srh.nexthdr = inner_proto;
		srh.hdrlen = (__u8)(2 * in_srh);
		srh.type = 4;
		srh.segments_left = (__u8)(n - 1);
		srh.last_entry = (__u8)(in_srh - 1);
		if (bpf_skb_store_bytes(skb, ETH_HLEN + 40, &srh, sizeof(srh), 0) < 0)
			return srv6_drop(skb, DROP_SRV6_ENCAP);
		/* Segment List[0] is the last segment: entry i holds segs[n-1-i]. */
		for (__u32 i = 0; i < SRV6_MAX_SEGS && i < in_srh; i++) {
			__u32 s = n - 1 - i;
			if (s >= SRV6_MAX_SEGS)
				return srv6_drop(skb, DROP_SRV6_ENCAP);
			if (bpf_skb_store_bytes(skb, ETH_HLEN + 48 + 16 * i, pol->segs[s], 16, 0) < 0)
				return srv6_drop(skb, DROP_SRV6_ENCAP);
		}
	}
	__be16 proto = bpf_htons(ETH_P_IPV6);
	if (bpf_skb_store_bytes(skb, 12, &proto, 2, 0) < 0)
		return srv6_drop(skb, DROP_SRV6_ENCAP);
	srv6_count(SRV6_STAT_ENCAP, skb->len);
	ret = srv6_route_out(skb, pol->segs[0], cfg->src, inner_len + overhead);
	if (ret < 0)
		return srv6_drop(skb, -ret);
	return ret;
}

static __always_inline int hook_srv6_encap(struct __sk_buff *skb, const struct flow *f,
					   const struct endpoint_info *ep)
{
	return srv6_encap(skb, f);
}

static __always_inline int hook_srv6_decap(struct __sk_buff *skb, const struct flow *f)
{
	if (f->family != MDP_AF_INET6)
		return CTX_ACT_OK;

	struct srv6_sid_key sk = {};
	__builtin_memcpy(sk.sid, f->daddr, 16);
	struct srv6_sid_info *sid = bpf_map_lookup_elem(&mdp_srv6_sid, &sk);
	__u8 nexthdr;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + 6, &nexthdr, 1) < 0)
		return CTX_ACT_OK;
	if (!sid) {
		if (nexthdr == NEXTHDR_ROUTING)
			srv6_count(SRV6_STAT_TRANSIT, skb->len);
		return CTX_ACT_OK;
	}
	__u32 vrf_id = sid->vrf_id;
	__u8 behavior = sid->behavior;

	__u32 off = ETH_HLEN + 40;
	if (nexthdr == NEXTHDR_ROUTING) {
		struct srv6_hdr srh;
		if (bpf_skb_load_bytes(skb, off, &srh, sizeof(srh)) < 0)
			return srv6_drop(skb, DROP_SRV6_BAD_SRH);
		__u32 hlen = ((__u32)srh.hdrlen + 1) * 8;
		if (off + hlen > skb->len)
			return srv6_drop(skb, DROP_SRV6_BAD_SRH);
		if (srh.type == 4) {
			if ((__u32)srh.hdrlen < 2 * ((__u32)srh.last_entry + 1))
				return srv6_drop(skb, DROP_SRV6_BAD_SRH);
			if ((__u32)srh.segments_left > (__u32)srh.last_entry + 1)
				return srv6_drop(skb, DROP_SRV6_SEGLEFT);
		}
		/* End.DT*: only at the end of the list (other routing types: RFC 8200, SL 0 is ignored). */
		if (srh.segments_left != 0)
			return srv6_drop(skb, DROP_SRV6_SEGLEFT);
		nexthdr = srh.nexthdr;
		off += hlen;
	}

	__u8 family;
	if (nexthdr == IPPROTO_IPIP_ && (behavior == SRV6_END_DT4 || behavior == SRV6_END_DT46))
		family = MDP_AF_INET;
	else if (nexthdr == IPPROTO_IPV6_ && (behavior == SRV6_END_DT6 || behavior == SRV6_END_DT46))
		family = MDP_AF_INET6;
	else
		return srv6_drop(skb, DROP_SRV6_BAD_INNER);

	struct srv6_vrfep_key ek = {};
	ek.vrf_id = vrf_id;
	ek.family = family;
	__u8 ver;
	if (bpf_skb_load_bytes(skb, off, &ver, 1) < 0)
		return srv6_drop(skb, DROP_SRV6_BAD_INNER);
	if (family == MDP_AF_INET) {
		__u8 tot[2];
		if ((ver >> 4) != 4 || (ver & 0xf) < 5 || bpf_skb_load_bytes(skb, off + 16, ek.addr, 4) < 0 ||
		    bpf_skb_load_bytes(skb, off + 2, tot, 2) < 0)
			return srv6_drop(skb, DROP_SRV6_BAD_INNER);
		if (off + (((__u32)tot[0] << 8) | tot[1]) > skb->len)
			return srv6_drop(skb, DROP_SRV6_BAD_INNER);
	} else {
		__u8 pl[2];
		if ((ver >> 4) != 6 || bpf_skb_load_bytes(skb, off + 24, ek.addr, 16) < 0 ||
		    bpf_skb_load_bytes(skb, off + 4, pl, 2) < 0)
			return srv6_drop(skb, DROP_SRV6_BAD_INNER);
		if (off + 40 + (((__u32)pl[0] << 8) | pl[1]) > skb->len)
			return srv6_drop(skb, DROP_SRV6_BAD_INNER);
	}
	struct srv6_vrfep *ep = bpf_map_lookup_elem(&mdp_srv6_vrfep, &ek);
	if (!ep)
		return srv6_drop(skb, DROP_SRV6_NO_VRF_MATCH);
	__u32 ifindex = ep->ifindex;
	__u8 mac[12];
	__builtin_memcpy(mac, ep->mac, 6);
	__builtin_memcpy(mac + 6, ep->hmac, 6);

	int ret = srv6_dec_ttl(skb, off, family);
	if (ret < 0)
		return srv6_drop(skb, -ret);

	__u64 flags = family == MDP_AF_INET ? BPF_F_ADJ_ROOM_DECAP_L3_IPV4 : BPF_F_ADJ_ROOM_DECAP_L3_IPV6;
	if (bpf_skb_adjust_room(skb, -(__s32)(off - ETH_HLEN), BPF_ADJ_ROOM_MAC, flags) < 0)
		return srv6_drop(skb, DROP_SRV6_BAD_INNER);
	__be16 proto = bpf_htons(family == MDP_AF_INET ? ETH_P_IP : ETH_P_IPV6);
	if (bpf_skb_store_bytes(skb, 12, &proto, 2, 0) < 0)
		return srv6_drop(skb, DROP_SRV6_ENCAP);
	srv6_count(SRV6_STAT_DECAP, skb->len);

	__u64 m0 = 0;
	__builtin_memcpy(&m0, mac, 6);
	if (m0) {
		if (bpf_skb_store_bytes(skb, 0, mac, 12, 0) < 0)
			return srv6_drop(skb, DROP_SRV6_ENCAP);
		return bpf_redirect(ifindex, 0);
	}
	return bpf_redirect_neigh(ifindex, NULL, 0, 0);
}

#endif
