// The fleet's pure parts: the `fleet:` YAML section (defaults, credentials refused, worker models left to the
// devices), job keys and message decoding, and hub URLs (credentials out of what is printed).
import { describe, expect, test } from "vitest";
import { parseAgent } from "../../../src/config/index.js";
import { parseHubUrl, redactUrl } from "../../../src/fleet/hub.js";
import {
  consumerName,
  decodeDevice,
  decodeJob,
  decodeResult,
  encode,
  jobKey,
  journalKey,
  journalPrefix,
  PROTOCOL_VERSION,
  subtaskSubject,
} from "../../../src/fleet/protocol.js";
import { BASE, expectIssues, replaceLine, useAgentDir, yaml } from "../config/support.js";

const agentDir = useAgentDir();

describe("fleet: in agent YAML", () => {
  test("a hub with the timing defaults", () => {
    const agent = parseAgent(yaml(...BASE, "fleet: { hub: nats://hub.local:4222 }"), { file: agentDir.file });
    expect(agent.fleet).toEqual({ hub: "nats://hub.local:4222", ackWaitSeconds: 30, deviceWaitSeconds: 60 });
  });

  test("credentials in the file, another scheme and a non-positive wait are refused at their line:col", () => {
    expectIssues(
      yaml(...BASE, "fleet:", "  hub: nats://crew:s3cret@hub.local:4222", "  ackWaitSeconds: 0"),
      agentDir.file,
      [
        ["10:8", "fleet.hub", "no credentials in the agent file"],
        ["11:19", "fleet.ackWaitSeconds", ""],
      ],
    );
    expectIssues(yaml(...BASE, "fleet: { hub: http://hub.local:4222 }"), agentDir.file, [
      ["9:15", "fleet.hub", "a NATS URL"],
    ]);
  });

  test("a worker model file that is not here is the devices' business in a fleet, an error without one", () => {
    const missing = replaceLine(8, "    model: ./models/not-here.gguf");
    expectIssues(yaml(...missing), agentDir.file, [["8:12", "workers[0].model", "model file not found"]]);
    const agent = parseAgent(yaml(...missing, "fleet: { hub: nats://hub.local:4222 }"), {
      file: agentDir.file,
    });
    expect(agent.workers[0]?.model).toMatchObject({ kind: "file" });
  });
});

describe("fleet protocol", () => {
  test("job keys are NATS tokens whatever the ids, and differ by revision and attempt", () => {
    const key = jobKey("20261130-1 run/with.dots", 2, "s1 ü", 1);
    expect(key).toMatch(/^[A-Za-z0-9_-]+\.2\.[A-Za-z0-9_-]+\.1$/);
    expect(jobKey("r", 0, "s1", 1)).not.toBe(jobKey("r", 1, "s1", 1));
    expect(jobKey("r", 0, "s1", 1)).not.toBe(jobKey("r", 0, "s1", 2));
    expect(journalKey("r", "s1", "1:fs.read#2").startsWith(`${journalPrefix("r", "s1")}.`)).toBe(true);
    expect(journalKey("r", "s1", "1:fs.read#2").split(".")).toHaveLength(3);
    expect(subtaskSubject("trip-planner", "researcher")).toBe("edgecrew.subtasks.trip-planner.researcher");
    expect(consumerName("trip-planner", "researcher")).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  test("messages round-trip; foreign, old or malformed ones decode to undefined", () => {
    const job = {
      v: PROTOCOL_VERSION,
      key: "k",
      agent: "a",
      revision: 0,
      attempt: 1,
      request: {
        runId: "r",
        task: "t",
        subtask: { id: "s1", worker: "w", instruction: "do", dependsOn: [] },
        worker: { name: "w" },
        dependencies: {},
      },
      stream: false,
    };
    expect(decodeJob(encode(job))).toEqual(job);
    expect(decodeJob(encode({ ...job, v: 99 }))).toBeUndefined();
    expect(decodeJob(encode({ ...job, attempt: 0 }))).toBeUndefined();
    expect(decodeJob(new TextEncoder().encode("not json"))).toBeUndefined();
    const ok = {
      v: PROTOCOL_VERSION,
      device: "d",
      outcome: { ok: true, answer: { a: 1 }, attempts: 1, usage: [] },
    };
    expect(decodeResult(encode(ok))).toEqual(ok);
    const failed = { v: PROTOCOL_VERSION, device: "d", error: { code: "SUBTASK_FAILED", message: "m" } };
    expect(decodeResult(encode(failed))).toEqual(failed);
    expect(decodeResult(encode({ v: PROTOCOL_VERSION, device: "d" }))).toBeUndefined();
    expect(decodeDevice(encode({ v: PROTOCOL_VERSION, name: "d" }))).toBeUndefined();
  });
});

describe("hub URLs", () => {
  test("credentials come from the URL, else the environment, and never reach the printable address", () => {
    expect(parseHubUrl("nats://crew:s3cret@hub.local:4222", {})).toMatchObject({
      server: "hub.local:4222",
      address: "nats://hub.local:4222",
      user: "crew",
      pass: "s3cret",
    });
    expect(parseHubUrl("nats://tok3n@hub.local", {})).toMatchObject({
      token: "tok3n",
      server: "hub.local:4222",
    });
    expect(parseHubUrl("nats://hub.local:4222", { EDGECREW_HUB_TOKEN: "t" })).toMatchObject({ token: "t" });
    expect(
      parseHubUrl("nats://hub.local:4222", { EDGECREW_HUB_USER: "u", EDGECREW_HUB_PASSWORD: "p" }),
    ).toMatchObject({ user: "u", pass: "p" });
    expect(parseHubUrl("tls://hub.local:4443", {})).toMatchObject({ tls: true });
    expect(redactUrl("nats://crew:s3cret@hub.local:4222")).toBe("nats://***@hub.local:4222");
    expect(() => parseHubUrl("http://crew:s3cret@hub.local", {})).toThrow(/nats:\/\/ or tls:\/\//);
    expect(() => parseHubUrl("http://crew:s3cret@hub.local", {})).not.toThrow(/s3cret/);
  });
});
