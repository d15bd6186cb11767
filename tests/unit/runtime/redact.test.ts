import { describe, expect, it } from "vitest";
import { createRedactor, REDACTED, secretValuesFrom } from "../../../src/runtime/redact.js";
import { startRun } from "../../../src/runtime/startRun.js";
import { MemoryRunStore } from "../../../src/runtime/store/index.js";
import type { JsonValue, Plan } from "../../../src/types.js";
import { agent, fakePlanner, fakeWorkers } from "../../helpers/fakes.js";

const secret = "tok-0123456789-secret";

describe("createRedactor", () => {
  it("replaces named secret values and key-shaped strings, deeply", () => {
    const redact = createRedactor(["hunter2-long-secret"]);
    expect(redact.text("pw=hunter2-long-secret; short=abc")).toBe(`pw=${REDACTED}; short=abc`);
    expect(redact.text(`use sk-proj-${"a".repeat(24)} or ghp_${"b".repeat(30)}`)).toBe(
      `use ${REDACTED} or ${REDACTED}`,
    );
    expect(redact.text("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345")).toBe(
      `Authorization: ${REDACTED}`,
    );
    expect(
      redact.json({ plain: ["x hunter2-long-secret y", 3, null], n: { k: "AKIAABCDEFGHIJKLMNOP" } }),
    ).toEqual({ plain: [`x ${REDACTED} y`, 3, null], n: { k: REDACTED } });
  });

  it("redacts a secret used as an object key, and keeps two keys that redact alike apart", () => {
    const redact = createRedactor([secret]);
    expect(redact.json({ [secret]: 1, nested: [{ [`k-${secret}`]: secret }] })).toEqual({
      [REDACTED]: 1,
      nested: [{ [`k-${REDACTED}`]: REDACTED }],
    });
    const twice = redact.json({ [secret]: 1, [`${secret}${secret}`]: 2 });
    expect(Object.values(twice)).toEqual([1, 2]);
    expect(JSON.stringify(twice)).not.toContain(secret);
  });

  it("redacts a secret split across two strings: list items, two fields, a key and its value", () => {
    const redact = createRedactor([secret]);
    const [head, tail] = [secret.slice(0, 9), secret.slice(9)];
    const splits: JsonValue[] = [
      [head, tail],
      { a: head, b: tail },
      { [head]: tail },
      { a: `x ${head}`, n: 5, b: `${tail} y` },
      { a: secret.slice(0, 3), b: secret.slice(3, 5), c: secret.slice(5) },
    ];
    for (const split of splits) {
      const text = JSON.stringify(redact.json(split));
      expect(text).not.toContain(head);
      expect(text).not.toContain(tail);
      expect(text).toContain(REDACTED);
    }
    expect(redact.json({ a: `x ${head}`, n: 5, b: `${tail} y` })).toEqual({
      a: `x ${REDACTED}`,
      n: 5,
      b: `${REDACTED} y`,
    });
    // Two short pieces that do not make the secret stay as they are.
    expect(redact.json(["tok", "9-se"])).toEqual(["tok", "9-se"]);
  });

  it("redacts a secret cut by a cap: its first characters at the end of a string, its last at the start", () => {
    const redact = createRedactor([secret]);
    expect(redact.text(`the key is ${secret.slice(0, 12)}`)).toBe(`the key is ${REDACTED}`);
    expect(redact.text(`excerpt: ${secret.slice(0, 8)}…`)).toBe(`excerpt: ${REDACTED}…`);
    expect(redact.text(`${secret.slice(10)} was the rest`)).toBe(`${REDACTED} was the rest`);
    // Fewer than 4 characters of it are not a piece worth the false alarms.
    expect(redact.text("a tok")).toBe("a tok");
    // Keys are never cut: a key that happens to be the start of a secret keeps its name.
    expect(createRedactor(["password-0123"]).json({ password: "password-01" })).toEqual({
      password: REDACTED,
    });
  });

  it("redacts any secret it is given: the minimum length is the agent definition's rule", () => {
    expect(createRedactor(["abc"]).text("x abc y")).toBe(`x ${REDACTED} y`);
    expect(createRedactor(["", "abcdef"]).text("abcdef")).toBe(REDACTED);
  });

  it("reads the values of the named environment variables that are set", () => {
    expect(secretValuesFrom(["A", "B", "C"], { A: "value-a", B: "" })).toEqual(["value-a"]);
  });
});

describe("a run with secrets", () => {
  const plan: Plan = {
    subtasks: [{ id: "s1", worker: "alpha", instruction: `use ${secret}`, dependsOn: [] }],
  };
  const start = (store: MemoryRunStore, revealSecrets?: boolean) =>
    startRun(agent(), `task with ${secret}`, {
      planner: fakePlanner(plan, { join: () => `answer ${secret}` }).port,
      workers: fakeWorkers(() => ({ [secret]: `worker saw ${secret.slice(0, 10)}`, rest: secret.slice(10) }))
        .port,
      store,
      redactor: createRedactor([secret]),
      ...(revealSecrets === undefined ? {} : { revealSecrets }),
    });

  it("keeps them out of events, everything written to the store, and the RunResult", async () => {
    const store = new MemoryRunStore();
    const run = start(store);
    const result = await run.result;
    expect(result.status).toBe("completed");
    const stored = await store.load(run.id);
    for (const everything of [JSON.stringify(stored), JSON.stringify(result)]) {
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(secret.slice(0, 10));
      expect(everything).not.toContain(secret.slice(10));
      expect(everything).toContain(REDACTED);
    }
    expect(result.task).toBe(`task with ${REDACTED}`);
    expect(result.plan?.subtasks[0]?.instruction).toBe(`use ${REDACTED}`);
    expect(result.answer).toBe(`answer ${REDACTED}`);
    expect(stored.results.s1?.answer).toEqual({
      [REDACTED]: `worker saw ${REDACTED}`,
      rest: REDACTED,
    });
  });

  it("hands the raw values back only when the caller asks for them (the store stays redacted)", async () => {
    const store = new MemoryRunStore();
    const run = start(store, true);
    const result = await run.result;
    expect(result.task).toBe(`task with ${secret}`);
    expect(result.answer).toBe(`answer ${secret}`);
    expect(JSON.stringify(await store.load(run.id))).not.toContain(secret);
  });
});
