/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packet parsing.
 *
 *   int parse_packet(struct __sk_buff *skb, struct flow *f)
 *     Fills f from the Ethernet / IPv4 or IPv6 / TCP, UDP, ICMP headers.
 *     Returns PARSE_IP for an IP packet, PARSE_NOT_IP for anything else (ARP, LLDP:
 *     passed untouched), or a negative DROP_* reason for a malformed or truncated one.
 *
 * Headers are read directly from the linear area after every bounds check (pulled
 * linear first if needed); only L4 behind IPv6 extension headers goes through
 * bpf_skb_load_bytes. A short packet is an error code, never an out-of-bounds access. ICMP type/code stand in for the ports (dport = type << 8 | code
 * is not used: dport = type, sport = code) so policy can match ICMP types.
 */
#ifndef MERIDIAN_PARSE_H
#define MERIDIAN_PARSE_H

#include "common.h"

#define PARSE_IP 0
#define PARSE_NOT_IP 1

struct flow {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u8 family;
	__u8 protocol;
	__u8 tcp_flags;
	__u8 icmp_echo; /* 1: ICMP(v6) echo request/reply; icmp_id is valid */
	__be16 icmp_id;
	__u16 pad;
	__u32 l3_off;
	__u32 l4_off;
	__u32 len;
};

/* Read skb->data / data_end with one load each from the ctx register itself: clang
 * otherwise may form ctx+off first, which the verifier refuses. */
static __always_inline void *skb_data(const struct __sk_buff *skb)
{
	void *p;
	asm volatile("%0 = *(u32 *)(%1 + %2)" : "=r"(p) : "r"(skb), "i"(__builtin_offsetof(struct __sk_buff, data)));
	return p;
}

static __always_inline void *skb_data_end(const struct __sk_buff *skb)
{
	void *p;
	asm volatile("%0 = *(u32 *)(%1 + %2)" : "=r"(p) : "r"(skb), "i"(__builtin_offsetof(struct __sk_buff, data_end)));
	return p;
}

/* Headers up to this many bytes are read directly from the linear packet area. */
#define PARSE_LINEAR 128

static __always_inline bool is_echo(__u8 protocol, __u8 type)
{
	if (protocol == IPPROTO_ICMP_)
		return type == 8 || type == 0;
	return type == 128 || type == 129;
}

static __always_inline int parse_l4_ptr(struct flow *f, void *l4, void *data_end)
{
	switch (f->protocol) {
	case IPPROTO_TCP_: {
		struct tcphdr *th = l4;
		if ((void *)(th + 1) > data_end)
			return -DROP_TRUNCATED_L4;
		if (th->doff < 5)
			return -DROP_INVALID_TCP;
		f->sport = th->source;
		f->dport = th->dest;
		f->tcp_flags = ((__u8 *)th)[13];
		return 0;
	}
	case IPPROTO_UDP_: {
		struct udphdr *uh = l4;
		if ((void *)(uh + 1) > data_end)
			return -DROP_TRUNCATED_L4;
		f->sport = uh->source;
		f->dport = uh->dest;
		return 0;
	}
	case IPPROTO_ICMP_:
	case IPPROTO_ICMPV6_: {
		__u8 *ih = l4;
		if ((void *)(ih + 4) > data_end)
			return -DROP_TRUNCATED_L4;
		f->dport = bpf_htons(ih[0]);
		f->sport = bpf_htons(ih[1]);
		if ((void *)(ih + 8) <= data_end && is_echo(f->protocol, ih[0])) {
			f->icmp_echo = 1;
			__builtin_memcpy(&f->icmp_id, ih + 4, 2);
		}
		return 0;
	}
	default:
		/* Other protocols carry no ports: policy matches them by protocol only. */
		return 0;
	}
}

/* Slow path for L4 behind IPv6 extension headers: offsets are runtime values. */
static __always_inline int parse_l4_load(struct __sk_buff *skb, struct flow *f)
{
	__u8 h[20];

	switch (f->protocol) {
	case IPPROTO_TCP_:
		if (bpf_skb_load_bytes(skb, f->l4_off, h, 20) < 0)
			return -DROP_TRUNCATED_L4;
		if ((h[12] >> 4) < 5)
			return -DROP_INVALID_TCP;
		f->tcp_flags = h[13];
		break;
	case IPPROTO_UDP_:
		if (bpf_skb_load_bytes(skb, f->l4_off, h, 8) < 0)
			return -DROP_TRUNCATED_L4;
		break;
	case IPPROTO_ICMPV6_:
		if (bpf_skb_load_bytes(skb, f->l4_off, h, 4) < 0)
			return -DROP_TRUNCATED_L4;
		f->dport = bpf_htons(h[0]);
		f->sport = bpf_htons(h[1]);
		return 0;
	default:
		return 0;
	}
	__builtin_memcpy(&f->sport, &h[0], 2);
	__builtin_memcpy(&f->dport, &h[2], 2);
	return 0;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, struct flow *f)
{
	void *data = skb_data(skb);
	void *data_end = skb_data_end(skb);
	struct iphdr *ip = data + ETH_HLEN;

	if ((void *)(ip + 1) > data_end)
		return -DROP_INVALID_IPV4;
	__u32 ihl = ip->ihl * 4;
	__u32 tot = bpf_ntohs(ip->tot_len);
	if (ip->version != 4 || ihl < 20 || tot < ihl || ETH_HLEN + tot > f->len)
		return -DROP_INVALID_IPV4;
	f->family = MDP_AF_INET;
	f->protocol = ip->protocol;
	__builtin_memcpy(f->saddr, &ip->saddr, 4);
	__builtin_memcpy(f->daddr, &ip->daddr, 4);
	f->l4_off = ETH_HLEN + ihl;
	if (bpf_ntohs(ip->frag_off) & 0x1fff)
		return -DROP_FRAG_UNSUPPORTED;
	return parse_l4_ptr(f, (void *)ip + ihl, data_end);
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, struct flow *f)
{
	void *data = skb_data(skb);
	void *data_end = skb_data_end(skb);
	struct ipv6hdr *ip6 = data + ETH_HLEN;

	if ((void *)(ip6 + 1) > data_end)
		return -DROP_INVALID_IPV6;
	if (ip6->version != 6 || ETH_HLEN + 40 + bpf_ntohs(ip6->payload_len) > f->len)
		return -DROP_INVALID_IPV6;
	f->family = MDP_AF_INET6;
	__builtin_memcpy(f->saddr, &ip6->saddr, 16);
	__builtin_memcpy(f->daddr, &ip6->daddr, 16);

	__u8 nexthdr = ip6->nexthdr;
	__u32 off = ETH_HLEN + 40;
	f->l4_off = off;
	switch (nexthdr) {
	case NEXTHDR_HOP:
	case NEXTHDR_ROUTING:
	case NEXTHDR_DEST:
	case NEXTHDR_AUTH:
	case NEXTHDR_FRAGMENT:
		break;
	default:
		/* Common case: L4 right after the fixed header. */
		f->protocol = nexthdr;
		return parse_l4_ptr(f, (void *)(ip6 + 1), data_end);
	}

#pragma unroll
	for (int i = 0; i < IPV6_MAX_EXTHDRS; i++) {
		__u8 eh[4];
		switch (nexthdr) {
		case NEXTHDR_HOP:
		case NEXTHDR_ROUTING:
		case NEXTHDR_DEST:
			if (bpf_skb_load_bytes(skb, off, eh, 2) < 0)
				return -DROP_INVALID_IPV6;
			nexthdr = eh[0];
			off += ((__u32)eh[1] + 1) * 8;
			continue;
		case NEXTHDR_AUTH:
			if (bpf_skb_load_bytes(skb, off, eh, 2) < 0)
				return -DROP_INVALID_IPV6;
			nexthdr = eh[0];
			off += ((__u32)eh[1] + 2) * 4;
			continue;
		case NEXTHDR_FRAGMENT:
			if (bpf_skb_load_bytes(skb, off, eh, 4) < 0)
				return -DROP_INVALID_IPV6;
			if (((eh[2] << 8) | eh[3]) & 0xfff8)
				return -DROP_FRAG_UNSUPPORTED;
			nexthdr = eh[0];
			off += 8;
			continue;
		default:
			goto done;
		}
	}
	if (nexthdr == NEXTHDR_HOP || nexthdr == NEXTHDR_ROUTING || nexthdr == NEXTHDR_DEST ||
	    nexthdr == NEXTHDR_AUTH || nexthdr == NEXTHDR_FRAGMENT)
		return -DROP_EXTHDR_LIMIT;
done:
	f->protocol = nexthdr;
	f->l4_off = off;
	return parse_l4_load(skb, f);
}

static __always_inline int parse_packet(struct __sk_buff *skb, struct flow *f)
{
	__builtin_memset(f, 0, sizeof(*f));
	f->len = skb->len;
	f->l3_off = ETH_HLEN;
	if (skb->len < ETH_HLEN)
		return -DROP_INVALID_ETH;

	/* Make the headers we read directly linear (a no-op when they already are). */
	__u32 linear = (__u32)((long)skb_data_end(skb) - (long)skb_data(skb));
	if (linear < PARSE_LINEAR && linear < skb->len)
		bpf_skb_pull_data(skb, skb->len < PARSE_LINEAR ? skb->len : PARSE_LINEAR);

	void *data = skb_data(skb);
	void *data_end = skb_data_end(skb);
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return -DROP_INVALID_ETH;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(skb, f);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(skb, f);
	return PARSE_NOT_IP;
}

/* IPv6 neighbour discovery and router messages must flow for IPv6 to work at all. */
/* fe80::/10 or ::. Link-scoped: such packets cannot leave the pod's link, and pods send
 * them on their own (MLD reports, router solicitations before an address is set). */
static __always_inline bool is_link_local_source(const struct flow *f)
{
	if (f->family != MDP_AF_INET6)
		return false;
	if (f->saddr[0] == 0xfe && (f->saddr[1] & 0xc0) == 0x80)
		return true;
	__u64 hi, lo;
	__builtin_memcpy(&hi, f->saddr, 8);
	__builtin_memcpy(&lo, f->saddr + 8, 8);
	return hi == 0 && lo == 0;
}

static __always_inline bool is_icmpv6_nd(const struct flow *f)
{
	__u16 type = bpf_ntohs(f->dport);
	return f->family == MDP_AF_INET6 && f->protocol == IPPROTO_ICMPV6_ && type >= 133 && type <= 137;
}

#endif
