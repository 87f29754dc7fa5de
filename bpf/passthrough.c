/* SPDX-License-Identifier: Apache-2.0 */
/* passthrough: returns TC_ACT_OK and nothing else; the baseline the benchmark divides by. */
#include "lib/common.h"

SEC("tc")
int passthrough(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
