import { describe, expect, it } from "vitest";
import { createRedactor, REDACTED, secretValuesFrom } from "../../../src/runtime/redact.js";
import { startRun } from "../../../src/runtime/startRun.js";
import { MemoryRunStore } from "../../../src/runtime/store/index.js";
import type { Plan } from "../../../src/types.js";
import { agent, fakePlanner, fakeWorkers } from "../../helpers/fakes.js";

describe("createRedactor", () => {
  it("replaces named secret values and key-shaped strings, deeply, leaving keys alone", () => {
    const redact = createRedactor(["hunter2-long-secret", "abc"]);
    expect(redact.text("pw=hunter2-long-secret; short=abc")).toBe(`pw=${REDACTED}; short=abc`);
    expect(redact.text(`use sk-proj-${"a".repeat(24)} or ghp_${"b".repeat(30)}`)).toBe(
      `use ${REDACTED} or ${REDACTED}`,
    );
    expect(redact.text("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345")).toBe(
      `Authorization: ${REDACTED}`,
    );
    expect(
      redact.json({ hunter2: ["x hunter2-long-secret y", 3, null], n: { k: "AKIAABCDEFGHIJKLMNOP" } }),
    ).toEqual({
      hunter2: [`x ${REDACTED} y`, 3, null],
      n: { k: REDACTED },
    });
  });

  it("reads the values of the named environment variables that are set", () => {
    expect(secretValuesFrom(["A", "B", "C"], { A: "value-a", B: "" })).toEqual(["value-a"]);
  });
});

describe("a run with secrets", () => {
  it("keeps them out of events and everything written to the store", async () => {
    const secret = "tok-0123456789-secret";
    const plan: Plan = {
      subtasks: [{ id: "s1", worker: "alpha", instruction: `use ${secret}`, dependsOn: [] }],
    };
    const store = new MemoryRunStore();
    const run = startRun(agent(), `task with ${secret}`, {
      planner: fakePlanner(plan, { join: () => `answer ${secret}` }).port,
      workers: fakeWorkers(() => ({ answer: `worker saw ${secret}` })).port,
      store,
      redactor: createRedactor([secret]),
    });
    const result = await run.result;
    expect(result.status).toBe("completed");
    const stored = await store.load(run.id);
    const everything = JSON.stringify(stored);
    expect(everything).not.toContain(secret);
    expect(everything).toContain(REDACTED);
    expect(stored.results.s1?.answer).toEqual({ answer: `worker saw ${REDACTED}` });
  });
});
