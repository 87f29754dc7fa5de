// An upgrade meets the pins an older agent left: maps no program declares any more are unpinned,
// a map pinned with another layout starts afresh (libbpf would refuse to load at all), and every
// other map is adopted with its contents. Real pinned maps in the kernel.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { POINT_NAMES, REASON_MAX } from "./layout";
import { PinnedDatapath } from "./loader";

const pinDir = `/sys/fs/bpf/meridian-test-${process.pid}-upgrade`;
// Real maps in the kernel: no root, no test (loudly).
if (process.getuid?.() !== 0) throw new Error("datapath tests need root (CAP_BPF)");
afterAll(() => PinnedDatapath.destroy(pinDir));

describe("loading over pins of another version", () => {
  it("unpins a removed map, starts a reshaped one afresh, and adopts the rest", () => {
    const before = PinnedDatapath.load({ pinDir });
    before.maps.setEndpoint("10.9.0.5", { epId: 7, identity: 4242, ifindex: 1, flags: 0 });
    before.close();
    // What an older version left: a map of a feature since removed, and the counters map with
    // room for fewer reasons.
    execFileSync("bpftool", [
      "map",
      "create",
      path.join(pinDir, "mdp_dns_cfg"),
      "type",
      "array",
      "key",
      "4",
      "value",
      "8",
      "entries",
      "1",
      "name",
      "mdp_dns_cfg",
    ]);
    execFileSync("rm", [path.join(pinDir, "mdp_counters")]);
    execFileSync("bpftool", [
      "map",
      "create",
      path.join(pinDir, "mdp_counters"),
      "type",
      "percpu_array",
      "key",
      "4",
      "value",
      "16",
      "entries",
      "4",
      "name",
      "mdp_counters",
    ]);

    const after = PinnedDatapath.load({ pinDir });
    try {
      expect(after.migrations).toEqual([
        "mdp_dns_cfg: no program uses it any more; unpinned",
        `mdp_counters: pinned with another layout (maxEntries 4 → ${REASON_MAX * POINT_NAMES.length}); started afresh`,
      ]);
      expect(existsSync(path.join(pinDir, "mdp_dns_cfg"))).toBe(false);
      expect(after.maps.maps.mdp_counters.info().maxEntries).toBe(REASON_MAX * POINT_NAMES.length);
      // Adopted with its contents.
      expect(after.maps.listEndpoints()).toEqual([
        expect.objectContaining({ ip: "10.9.0.5", epId: 7, identity: 4242 }),
      ]);
    } finally {
      after.close();
    }
    // A second load finds nothing to change.
    const again = PinnedDatapath.load({ pinDir });
    expect(again.migrations).toEqual([]);
    again.close();
  });
});
