/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The maps every program shares: endpoints, ipcache, policy, conntrack, counters, events.
 * Each program object declares all of them, so whichever object loads first creates them and
 * the loader pins them under the pin directory (<pinDir>/<map name>); later loads, and an agent
 * restart, reuse the pins. A feature's own maps live in its header (lib/<feature>.h) and exist
 * only once the feature does; a pinned map whose layout no longer matches is migrated by the
 * loader (apps/node-agent/src/datapath/loader.ts). Names stay under 16 bytes (the kernel's limit).
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

#endif
