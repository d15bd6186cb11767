// createCrew with a hub, in process: the agent's MCP servers are not started here (the devices run the tools), so a
// worker granted a whole MCP server must not make the run fail on an unknown tool; with no device serving the
// worker the run fails with NO_DEVICE after fleet.deviceWaitSeconds.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineAgent } from "../../../src/config/index.js";
import { createCrew } from "../../../src/crew.js";
import { ScriptedChatModel } from "../../../src/testing/index.js";
import { type NatsServerHandle, startNatsServer } from "../../helpers/natsServer.mjs";

let server: NatsServerHandle;

beforeAll(async () => {
  server = await startNatsServer();
});

afterAll(async () => {
  await server?.stop();
});

describe("a crew with a hub", () => {
  it("runs with MCP grants it does not start, fails NO_DEVICE without devices", async () => {
    const agent = defineAgent({
      name: "hubbed",
      description: "A fleet agent whose worker is granted an MCP server",
      planner: { model: "scripted:planner" },
      workers: [
        {
          name: "reader",
          description: "Reads files",
          model: "fixture:reader?seed=3",
          tools: ["files"],
          output: { type: "object", properties: { note: { type: "string" } }, required: ["note"] },
        },
      ],
      tools: [{ mcp: { name: "files", command: "no-such-mcp-server-binary", private: true } }],
      fleet: { hub: "nats://127.0.0.1:4222", ackWaitSeconds: 2, deviceWaitSeconds: 1 },
      limits: { maxSubtasks: 1, maxReplans: 0 },
      escalation: { retries: 0, to: "fail" },
    });
    const plan = JSON.stringify({
      subtasks: [{ id: "s1", worker: "reader", instruction: "Read the notes", dependsOn: [] }],
    });
    const crew = await createCrew(agent, {
      planner: new ScriptedChatModel([plan]),
      plannerLocality: "local",
      store: false,
      hub: server.url,
    });
    const run = crew.run("Read my notes");
    const result = await run.result;
    expect(result.status).toBe("failed");
    expect(result.error?.code, result.error?.message).toBe("NO_DEVICE");
    await crew.dispose();
  });
});
