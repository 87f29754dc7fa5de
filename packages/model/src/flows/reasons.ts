// Drop reasons in words. The names are the datapath's (bpf/lib/types.h, bpf/lib/srv6.h; the agent
// lower-cases them in apps/node-agent/src/datapath/layout.ts); the console and the "why" answer
// say what each one means instead of showing the constant.

export const DROP_REASON_WORDS: Record<string, string> = {
  policy_default: "no rule allowed it (the pod is under default deny in this direction)",
  policy_deny: "an explicit deny rule matched",
  invalid_eth: "the frame was shorter than an Ethernet header",
  invalid_ipv4: "the IPv4 header was malformed (version, header length or total length)",
  invalid_ipv6: "the IPv6 header was malformed (version, payload length or extension chain)",
  truncated_l4: "the TCP/UDP/ICMP header was missing or cut short",
  frag_unsupported: "a non-first IP fragment: it carries no ports to decide on",
  exthdr_limit: "too many IPv6 extension headers",
  invalid_tcp: "the TCP header was malformed (data offset below 5)",
  invalid_source: "the pod sent from an address that is not its own",
  srv6_no_policy: "the VRF is strict and no SRv6 policy covers the destination",
  srv6_oversize: "it would exceed the uplink MTU once SRv6-encapsulated",
  srv6_hop_limit: "its TTL or hop limit would reach 0",
  srv6_encap: "SRv6 encapsulation failed (bad policy, no source address, or a helper failed)",
  srv6_no_vrf_match: "after SRv6 decapsulation no member of the VRF owns the inner destination",
  srv6_bad_srh: "the segment routing header was truncated or inconsistent",
  srv6_segleft: "the segment routing header's Segments Left was out of range",
  srv6_bad_inner: "the inner packet was malformed or of a protocol the SID's behaviour does not take",
};

/** A reason in words; an unknown name (a newer agent) is shown as itself. */
export function dropReasonWords(reason: string | undefined): string {
  if (!reason) return "no reason was reported";
  return DROP_REASON_WORDS[reason] ?? `reason "${reason}"`;
}

/** Whether a policy decided the drop (then it names the policy), as against a malformed packet. */
export function isPolicyReason(reason: string | undefined): boolean {
  return reason === "policy_default" || reason === "policy_deny";
}
