/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS redirect (FQDN policy): DNS a pod sends on a port its policy's DNS rules name goes to the
 * node's DNS proxy instead of the server it addressed.
 *
 * How: the hook marks the packet (MARK_DNS_PROXY) and records the pod's original destination in
 * mdp_dns_orig; an nftables rule the agent installs in the node's namespace (table
 * `inet meridian_dns`) redirects marked packets to the proxy's port. The proxy reads the original
 * destination back from mdp_dns_orig by the pod's address and source port, and answers through
 * conntrack's reverse translation, so the pod sees the answer come from the server it asked.
 * Why not TPROXY or bpf_sk_assign: both hand the proxy packets addressed to a foreign address,
 * and a UDP proxy must then read IP_ORIGDSTADDR from recvmsg and answer from a transparent socket
 * bound to that address — neither of which Node's dgram sockets can do. See
 * apps/node-agent/src/features/dns/README.md.
 *
 *   mdp_dns_redir  hash   {ifindex, protocol, port} -> 1: the host veth (= ep_id) of a pod whose
 *                         policy has DNS rules, and the ports they name (protocol 0: TCP and UDP)
 *   mdp_dns_orig   LRU    {pod addr, sport, protocol, family} -> {server addr, dport, ifindex}
 *
 * The hook runs for new flows (after conntrack, before policy: the L3/L4 policy still decides
 * whether the pod may talk to that server at all) and, with ep NULL, for packets of established
 * flows too (a TCP query's segments after its SYN must follow it to the proxy).
 */
#ifndef MERIDIAN_DNS_H
#define MERIDIAN_DNS_H

#include "common.h"
#include "parse.h"

#define FEATURE_DNS_REDIRECT
#define HOOK_DNS_REDIRECT

/* skb->mark the nftables rule matches ("MR" + 0x0053). */
#define MARK_DNS_PROXY 0x4d520053
#define DNS_REDIR_MAX 16384
#define DNS_ORIG_MAX 65536

struct dns_redir_key {
	__u32 ifindex;
	__u8 protocol; /* 0: TCP and UDP */
	__u8 pad;
	__be16 port;
};

struct dns_orig_key {
	__u8 addr[16];
	__be16 sport;
	__u8 protocol;
	__u8 family;
};

struct dns_orig {
	__u8 daddr[16];
	__be16 dport;
	__u16 pad;
	__u32 ifindex;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DNS_REDIR_MAX);
	__type(key, struct dns_redir_key);
	__type(value, __u32);
} mdp_dns_redir SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DNS_ORIG_MAX);
	__type(key, struct dns_orig_key);
	__type(value, struct dns_orig);
} mdp_dns_orig SEC(".maps");

static __always_inline bool dns_redirected(__u32 ifindex, __u8 protocol, __be16 port)
{
	struct dns_redir_key k = { .ifindex = ifindex, .protocol = protocol, .pad = 0, .port = port };

	if (bpf_map_lookup_elem(&mdp_dns_redir, &k))
		return true;
	k.protocol = 0;
	return bpf_map_lookup_elem(&mdp_dns_redir, &k) != NULL;
}

static __always_inline int hook_dns_redirect(struct __sk_buff *skb, const struct flow *f,
					     const struct endpoint_info *ep)
{
	if (f->protocol != IPPROTO_UDP_ && f->protocol != IPPROTO_TCP_)
		return CTX_ACT_OK;
	if (!dns_redirected(skb->ifindex, f->protocol, f->dport))
		return CTX_ACT_OK;
	/* UDP: every query (a socket may ask several servers); TCP: the SYN opens the flow. */
	if (f->protocol == IPPROTO_UDP_ || (f->tcp_flags & 0x02)) {
		struct dns_orig_key k = {};
		struct dns_orig v = {};

		__builtin_memcpy(k.addr, f->saddr, 16);
		k.sport = f->sport;
		k.protocol = f->protocol;
		k.family = f->family;
		__builtin_memcpy(v.daddr, f->daddr, 16);
		v.dport = f->dport;
		v.ifindex = skb->ifindex;
		bpf_map_update_elem(&mdp_dns_orig, &k, &v, BPF_ANY);
	}
	skb->mark = MARK_DNS_PROXY;
	return CTX_ACT_OK;
}

#endif
