// CNI ADD's admission: it answers only once an applied desired state holds the new pod with its
// identity. Issue 19, bug 5: ADD returning on any applied state passed every agent test.

import { desiredEndpoint, desiredState } from "@meridian/model/testing";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { CniError } from "../cni/spec.js";
import { ReservedIdentity } from "../sync/channel.js";
import { EndpointAdmission } from "./admission.js";
import type { AgentEndpoint } from "./endpoints.js";

const log = pino({ level: "silent" });

function endpoint(podName: string, address: string): AgentEndpoint {
  return {
    id: `ctr-${podName}/eth0`,
    containerId: `ctr-${podName}`,
    ifname: "eth0",
    netns: "/var/run/netns/x",
    hostIfname: "mrd0",
    hostMac: "02:00:00:00:00:01",
    mac: "02:00:00:00:00:02",
    addresses: [address],
    namespace: "shop",
    podName,
    labels: { app: "web" },
    createdAt: new Date().toISOString(),
  };
}

/** Settles in the next macrotask if the promise is already resolved (or rejected) by then. */
async function settled(p: Promise<unknown>): Promise<"resolved" | "rejected" | "pending"> {
  return Promise.race([
    p.then(
      () => "resolved" as const,
      () => "rejected" as const,
    ),
    new Promise<"pending">((r) => setImmediate(() => r("pending"))),
  ]);
}

describe("endpoint admission (CNI ADD with a control plane)", () => {
  it("waits through applied states without the pod, with it at reserved:init or at another address, and answers on the one with its identity", async () => {
    const admission = new EndpointAdmission(10_000, log);
    let reports = 0;
    admission.reporter = async () => {
      reports++;
    };
    const ep = endpoint("web-1", "10.244.9.5");
    const add = admission.admit(ep);
    expect(reports).toBe(1);

    // A state about other pods only (e.g. compiled before this pod was reported).
    admission.onApplied(
      desiredState(2, {
        endpoints: [
          desiredEndpoint({ namespace: "shop", name: "web-0", identity: 1000, ipv4: "10.244.9.4" }),
        ],
      }),
    );
    expect(await settled(add)).toBe("pending");
    // The pod, but without an identity yet.
    admission.onApplied(
      desiredState(3, {
        endpoints: [
          desiredEndpoint({
            namespace: "shop",
            name: "web-1",
            identity: ReservedIdentity.init,
            ipv4: "10.244.9.5",
          }),
        ],
      }),
    );
    expect(await settled(add)).toBe("pending");
    // A previous pod of that name, at another address; and the same name in another namespace.
    admission.onApplied(
      desiredState(4, {
        endpoints: [
          desiredEndpoint({ namespace: "shop", name: "web-1", identity: 1001, ipv4: "10.244.9.77" }),
          desiredEndpoint({ namespace: "dev", name: "web-1", identity: 1002, ipv4: "10.244.9.5" }),
        ],
      }),
    );
    expect(await settled(add)).toBe("pending");
    expect(admission.waiting).toBe(1);

    admission.onApplied(
      desiredState(5, {
        endpoints: [
          desiredEndpoint({ namespace: "shop", name: "web-1", identity: 1001, ipv4: "10.244.9.5" }),
        ],
      }),
    );
    expect(await settled(add)).toBe("resolved");
    expect(admission.waiting).toBe(0);
    // Admitted already: a repeated ADD answers at once, without a new report.
    await admission.admit(ep);
    expect(reports).toBe(1);
  });

  it("fails with CNI code 11 naming the pod when no applied state holds it in time", async () => {
    const admission = new EndpointAdmission(150, log);
    const add = admission.admit(endpoint("db-9", "10.244.9.9"));
    admission.onApplied(desiredState(2));
    const err = await add.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniError);
    expect(err).toMatchObject({ code: 11 });
    expect((err as Error).message).toMatch(/did not assign an identity to pod shop\/db-9 in time \(0\.2 s\)/);
    expect(admission.waiting).toBe(0);
  });

  it("does not wait for an endpoint without a pod name (it is never reported)", async () => {
    const admission = new EndpointAdmission(10_000, log);
    await admission.admit({ ...endpoint("x", "10.244.9.3"), podName: undefined });
    expect(admission.waiting).toBe(0);
  });
});
