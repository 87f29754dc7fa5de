/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The features compiled into the programs: one header each (lib/<feature>.h), which declares
 * its maps, defines FEATURE_<NAME> and, for each hook it fills, HOOK_<NAME> with the hook itself
 * (see lib/hooks.h for the contract). Today's features (policy, conntrack) are not hooks: they
 * are the programs' own steps (lib/policy.h, lib/conntrack.h).
 */
#ifndef MERIDIAN_FEATURES_H
#define MERIDIAN_FEATURES_H

#include "dns.h" /* FQDN policy: DNS to the node's proxy (hook_dns_redirect) */
#include "egress_gw.h" /* egress gateway: steer on pod egress, SNAT to_net, reverse from_net */
#include "srv6.h" /* SRv6 L3VPN: encap on pod egress, decap on uplink ingress */

#endif
