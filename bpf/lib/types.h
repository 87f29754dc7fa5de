/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Structs and constants shared by the BPF programs and user space.
 *
 * apps/node-agent/src/datapath/layout.ts describes every struct here once more
 * (size and field offsets); a test there compares it with the BTF of the built
 * objects, so a change on one side that is not made on the other fails CI.
 *
 * Conventions: IPv4 addresses sit in the first 4 bytes of 16-byte address fields,
 * the rest zero. Ports are network byte order. Identities and endpoint ids are host
 * byte order; in LPM keys they are always matched in full, so byte order is moot.
 */
#ifndef MERIDIAN_TYPES_H
#define MERIDIAN_TYPES_H

/* Address families as stored in keys. */
#define MDP_AF_INET 4
#define MDP_AF_INET6 6

/* Reserved identities. 0 in a policy key means "any remote identity". */
#define IDENTITY_ANY 0
#define IDENTITY_HOST 1
#define IDENTITY_WORLD 2 /* an address the ipcache does not know */

/* Observation points: one per attach point, also the counter column. */
#define POINT_FROM_POD 0 /* pod veth host side, tcx ingress: egress policy */
#define POINT_TO_POD 1   /* pod veth host side, tcx egress: ingress policy */
#define POINT_FROM_NET 2 /* uplink tcx ingress */
#define POINT_TO_NET 3   /* uplink tcx egress */
#define POINT_MAX 4

/* Policy direction, as seen from the endpoint. */
#define DIR_INGRESS 0
#define DIR_EGRESS 1

/* Endpoint flags. */
#define EP_F_POLICY_INGRESS (1 << 0) /* default-deny ingress: some policy selects it */
#define EP_F_POLICY_EGRESS (1 << 1)  /* default-deny egress */
/* Bits 2-4 are kept for the DNS redirect, egress gateway and SRv6 features, which declare them
 * in their own headers (lib/<feature>.h) when they land. */

/* Policy verdicts. */
#define VERDICT_ALLOW 1
#define VERDICT_DENY 2

/* Event verdicts. */
#define EV_FORWARDED 1
#define EV_DROPPED 2
#define EV_REDIRECTED 3 /* a feature's hook handed the packet on (bpf_redirect*) */

/*
 * Drop reasons. Programs carry them as negative ints to one exit that counts them
 * per observation point and emits an event. 0 in the counters map is "forwarded".
 */
#define REASON_FORWARDED 0
#define DROP_POLICY_DEFAULT 1   /* policy enforced and nothing allowed it */
#define DROP_POLICY_DENY 2      /* an explicit deny rule matched */
#define DROP_INVALID_ETH 3      /* shorter than an Ethernet header */
#define DROP_INVALID_IPV4 4     /* bad version / IHL / total length */
#define DROP_INVALID_IPV6 5     /* bad version / payload length / extension chain */
#define DROP_TRUNCATED_L4 6     /* L4 header missing or cut short */
#define DROP_FRAG_UNSUPPORTED 7 /* non-first fragment: no ports to decide on */
#define DROP_EXTHDR_LIMIT 8     /* too many IPv6 extension headers */
#define DROP_INVALID_TCP 9      /* TCP data offset < 5 */
#define DROP_INVALID_SOURCE 10  /* a pod sent from an address that is not its own */
#define REASON_MAX 64
#define COUNTER_EVENTS_SUPPRESSED 61 /* drop events the per-reason rate limit held back (lib/exit.h) */
#define REASON_REDIRECTED 62    /* a hook redirected the packet: counted apart, not a drop */
#define COUNTER_EVENTS_LOST 63  /* ring buffer full: events dropped (not packets) */

#define COUNTERS_MAX (REASON_MAX * POINT_MAX)

/* endpoints: pod address -> endpoint. */
struct endpoint_key {
	__u8 addr[16];
	__u8 family;
	__u8 pad[3];
};

struct endpoint_info {
	__u32 ep_id;
	__u32 identity;
	__u32 ifindex;
	__u32 flags;
};

/* ipcache: LPM trie. prefixlen = 32 (family + pad) + IP prefix length. */
struct ipcache_key {
	__u32 prefixlen;
	__u8 family;
	__u8 pad[3];
	__u8 addr[16];
};

struct ipcache_info {
	__u32 identity;
	__u32 flags;
};

/*
 * policy: LPM trie over (endpoint, remote identity, direction, protocol, port).
 *   prefixlen 96           exact port
 *   prefixlen 80 + n       port range given as a prefix of n bits of the port
 *                          (user space splits ranges into such prefixes)
 *   prefixlen 80           any port of that protocol
 *   prefixlen 72           any protocol, any port (L3 only)
 * The datapath looks up twice: the remote identity and IDENTITY_ANY. A deny from
 * either wins; then an allow from either; otherwise, if the endpoint enforces
 * policy in that direction, the default is deny. Within one identity the longest
 * prefix wins, so user space must not write an allow more specific than a deny
 * that covers it (it resolves "deny beats allow" there).
 */
#define POLICY_PREFIX_FULL 96
#define POLICY_PREFIX_PROTO 80
#define POLICY_PREFIX_L3 72

struct policy_key {
	__u32 prefixlen;
	__u32 ep_id;
	__u32 identity;
	__u8 direction;
	__u8 protocol;
	__be16 dport;
};

struct policy_entry {
	__u32 rule_id;
	__u8 verdict;
	__u8 flags;
	__u16 pad;
};

/* conntrack: tuple as the originating packet carries it, plus the direction that
 * created it (DIR_EGRESS from from_pod, DIR_INGRESS from to_pod). */
struct ct_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u8 protocol;
	__u8 family;
	__u8 direction;
	__u8 pad;
};

struct ct_entry {
	__u64 last_seen_ns;
	__u64 packets;
	__u64 bytes;
	__u32 rule_id;
	__u32 flags; /* CT_F_* */
};

/* Set by the agent when a policy change no longer allows an established flow: packets
 * of the flow, either way, are dropped (DENIED: by an explicit deny). The entry stays, so
 * the other side cannot re-create it as the "originator" with its next packet; the agent
 * clears the flags if a later policy allows the flow again. */
#define CT_F_REVOKED 1
#define CT_F_DENIED 2

/* counters: per-CPU array indexed by reason * POINT_MAX + point. */
struct counter {
	__u64 packets;
	__u64 bytes;
};

/* flow events: ring buffer records. */
struct flow_event {
	__u64 ts_ns;
	__u32 ep_id;
	__u32 src_identity;
	__u32 dst_identity;
	__u32 rule_id;
	__u32 bytes;
	__u32 ifindex;
	__u16 reason;   /* REASON_FORWARDED or DROP_* */
	__u8 verdict;   /* EV_FORWARDED / EV_DROPPED */
	__u8 point;     /* POINT_* */
	__u8 family;
	__u8 protocol;
	__be16 sport;
	__be16 dport;
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 suppressed; /* drop events of this reason the rate limit held back since the last one sent */
};

#endif
