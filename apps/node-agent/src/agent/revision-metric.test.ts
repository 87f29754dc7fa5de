// meridian_last_applied_revision is the revision in force, the one `status` names: it moves when
// the control plane acknowledges a newer revision whose content changed nothing in the datapath.
import pino from "pino";
import { describe, expect, it } from "vitest";
import { agentConfigSchema } from "../config.js";
import { UnenforcedDatapath } from "../features/policy/datapath.js";
import { Agent } from "./daemon.js";

async function revisionMetric(agent: Agent): Promise<number | undefined> {
  const m = await agent.metrics.registry.getSingleMetric("meridian_last_applied_revision")?.get();
  return m?.values[0]?.value;
}

describe("meridian_last_applied_revision", () => {
  it("follows the revision in force, also when only the revision moved", async () => {
    const config = agentConfigSchema.parse({
      nodeName: "flows-rev",
      stateDir: "/tmp/flows-rev-state",
      api: "http://127.0.0.1:9",
      httpAddress: "",
      datapath: "none",
    });
    const agent = new Agent(config, {
      datapath: new UnenforcedDatapath("test"),
      logger: pino({ level: "silent" }),
    });
    expect(await revisionMetric(agent)).toBe(0);
    // The sync loop's "same content at a newer revision": acknowledged, nothing applied.
    agent.setSyncConnected(true, 48);
    expect(await revisionMetric(agent)).toBe(48);
    agent.setSyncConnected(true, 81);
    expect(await revisionMetric(agent)).toBe(81);
    expect(agent.controlPlane).toMatchObject({ lastRevision: 81 });
    // Disconnected: the last revision in force stays.
    agent.setSyncConnected(false, 81);
    expect(await revisionMetric(agent)).toBe(81);
  });
});
