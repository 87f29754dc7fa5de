/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every map of the datapath. Each program object declares all of them, so whichever
 * object loads first creates them and the loader pins them under the pin directory
 * (<pinDir>/<map name>); later loads, and an agent restart, reuse the pins.
 * Names stay under 16 bytes (the kernel's limit).
 */
#ifndef MERIDIAN_MAPS_H
#define MERIDIAN_MAPS_H

#include "common.h"

#define ENDPOINTS_MAX 65536
#define IPCACHE_MAX 524288
#define POLICY_MAX 262144
#define CT_MAX 131072
#define EVENTS_BYTES (1 << 20)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ENDPOINTS_MAX);
	__type(key, struct endpoint_key);
	__type(value, struct endpoint_info);
} mdp_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, IPCACHE_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ipcache_key);
	__type(value, struct ipcache_info);
} mdp_ipcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, POLICY_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct policy_key);
	__type(value, struct policy_entry);
} mdp_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CT_MAX);
	__type(key, struct ct_key);
	__type(value, struct ct_entry);
} mdp_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTERS_MAX);
	__type(key, __u32);
	__type(value, struct counter);
} mdp_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_BYTES);
} mdp_events SEC(".maps");

/* ---- Reserved (see README "Hooks"): created and pinned, not yet read. ---- */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dns_config);
} mdp_dns_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct egress_gw_key);
	__type(value, struct egress_gw_info);
} mdp_egress_gw SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ct_key);
	__type(value, struct snat_entry);
} mdp_snat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct srv6_vrf_key);
	__type(value, __u32); /* vrf id */
} mdp_srv6_vrf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct srv6_policy_key);
	__type(value, struct srv6_sid);
} mdp_srv6_pol SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct srv6_sid);
	__type(value, struct srv6_sid_info);
} mdp_srv6_sid SEC(".maps");

#endif
