/**
 * Issue 12, finding 5: a secret under 6 characters was never redacted, silently. It is refused where every other
 * definition problem is: at validate/loadAgent with its line:col, at defineAgent, and at createCrew.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { defineAgent, parseAgent } from "../../../src/config/index.js";
import { checkSecretValues, MIN_SECRET_LENGTH } from "../../../src/config/secretChecks.js";
import { ErrorCodes } from "../../../src/errors.js";

const yaml = (secrets: string) =>
  [
    "name: secretive",
    "description: An agent with secrets",
    "planner:",
    "  model: scripted:planner",
    "workers:",
    "  - name: writer",
    "    description: Writes",
    "    model: fixture:writer?seed=1",
    `secrets: ${secrets}`,
    "",
  ].join("\n");

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("secret values", () => {
  it(`refuses a secret shorter than ${MIN_SECRET_LENGTH} characters at its line:col, naming the variable`, () => {
    vi.stubEnv("EDGECREW_TEST_PIN", "1234");
    vi.stubEnv("EDGECREW_TEST_KEY", "long-enough-key");
    let error: unknown;
    try {
      parseAgent(yaml("[EDGECREW_TEST_KEY, EDGECREW_TEST_PIN]"), { file: "secretive.yaml" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: ErrorCodes.AGENT_INVALID });
    const message = (error as Error).message;
    expect(message).toContain(
      "secretive.yaml:9:30: secrets[1]: the value of EDGECREW_TEST_PIN has 4 characters",
    );
    expect(message).toContain("at least 6");
    expect(message).not.toContain("EDGECREW_TEST_KEY");
  });

  it("accepts secrets that are long enough, unset or empty", () => {
    vi.stubEnv("EDGECREW_TEST_KEY", "123456");
    vi.stubEnv("EDGECREW_TEST_EMPTY", "");
    expect(
      parseAgent(yaml("[EDGECREW_TEST_KEY, EDGECREW_TEST_EMPTY, EDGECREW_TEST_UNSET]")).secrets,
    ).toHaveLength(3);
  });

  it("is checked by defineAgent too, and reads the environment it is given", () => {
    vi.stubEnv("EDGECREW_TEST_PIN", "12345");
    expect(() =>
      defineAgent({
        name: "secretive",
        description: "An agent with secrets",
        planner: { model: "scripted:planner" },
        workers: [{ name: "writer", description: "Writes", model: "fixture:writer?seed=1" }],
        secrets: ["EDGECREW_TEST_PIN"],
      }),
    ).toThrow(/secrets\[0\]: the value of EDGECREW_TEST_PIN has 5 characters/);
    expect(checkSecretValues(["A", 3, "B"], { A: "abc", B: "abcdef" })).toEqual([
      { path: ["secrets", 0], at: "value", message: expect.stringContaining("A has 3 characters") },
    ]);
  });
});
