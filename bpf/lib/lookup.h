/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Endpoint and identity lookups.
 *
 *   struct endpoint_info *lookup_endpoint(family, addr)   pod by address, or NULL
 *   __u32 lookup_identity(family, addr)                   ipcache longest prefix,
 *                                                         IDENTITY_WORLD on a miss
 */
#ifndef MERIDIAN_LOOKUP_H
#define MERIDIAN_LOOKUP_H

#include "maps.h"

static __always_inline struct endpoint_info *lookup_endpoint(__u8 family, const __u8 *addr)
{
	struct endpoint_key k = {};

	k.family = family;
	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(&mdp_endpoints, &k);
}

static __always_inline __u32 lookup_identity(__u8 family, const __u8 *addr)
{
	struct ipcache_key k = {};
	struct ipcache_info *v;

	k.prefixlen = 32 + (family == MDP_AF_INET ? 32 : 128);
	k.family = family;
	__builtin_memcpy(k.addr, addr, 16);
	v = bpf_map_lookup_elem(&mdp_ipcache, &k);
	return v ? v->identity : IDENTITY_WORLD;
}

#endif
