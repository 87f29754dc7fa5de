// tcx links on a real device: attach, pin, replace atomically, survive the handle, detach.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachTcx, type BpfProgram, ifNameToIndex, openObject, openPinnedLink, runInNetns } from "../index";
import { buildFixture, pinDirFor, requireBpf } from "./helpers";

const NS = `mdn-${process.pid}`;
const NS_PATH = `/run/netns/${NS}`;
const pinDir = pinDirFor("tcx");
let prog: BpfProgram;
let drop: BpfProgram;

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe" }).toString();

beforeAll(() => {
  requireBpf();
  ip("netns", "add", NS);
  ip("-n", NS, "link", "add", "mdn0", "type", "veth", "peer", "name", "mdn1");
  ip("-n", NS, "link", "set", "mdn0", "up");
  ip("-n", NS, "link", "set", "mdn1", "up");
  mkdirSync(pinDir);
  const obj = openObject(buildFixture("good"));
  prog = obj.program("fx_prog");
  drop = obj.program("fx_drop");
  obj.close();
});

afterAll(() => {
  prog?.close();
  drop?.close();
  rmSync(pinDir, { recursive: true, force: true });
  try {
    ip("netns", "del", NS);
  } catch {
    // already gone
  }
});

describe("tcx", () => {
  it("attaches in another netns, pins, replaces atomically and detaches", () => {
    const ifindex = runInNetns(NS_PATH, () => ifNameToIndex("mdn0"));
    const link = runInNetns(NS_PATH, () => attachTcx(prog, ifindex, "ingress"));
    const info = link.info();
    expect(info.progId).toBe(prog.info().id);
    expect(info.ifindex).toBe(ifindex);
    expect(info.attachType).toBe(46);

    link.pin(`${pinDir}/link`);
    link.close();
    // The pin keeps it attached after our handle is gone; reopen it like a restarted agent.
    const again = openPinnedLink(`${pinDir}/link`);
    expect(again.info().id).toBe(info.id);

    again.update(drop);
    expect(again.info().progId).toBe(drop.info().id);
    // With an expected program, a stale replace is refused.
    expect(() => again.update(prog, prog)).toThrow(expect.objectContaining({ errno: expect.any(Number) }));
    again.update(prog, drop);
    expect(again.info().progId).toBe(prog.info().id);

    again.detach();
    again.close();
    expect(() => again.update(prog)).toThrow(/BpfLink is closed/);
    rmSync(`${pinDir}/link`);
  });

  it("attaching to a device that does not exist is an error with errno", () => {
    expect(() => attachTcx(prog, 999999, "egress")).toThrow(expect.objectContaining({ code: "ENODEV" }));
  });

  it("runInNetns returns to the original namespace even when the callback throws", () => {
    expect(() =>
      runInNetns(NS_PATH, () => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(() => ifNameToIndex("mdn0")).toThrow(); // back home: the netns device is not visible
    expect(runInNetns(NS_PATH, () => ifNameToIndex("mdn0"))).toBeGreaterThan(0);
  });
});
