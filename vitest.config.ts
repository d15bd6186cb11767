import { defineConfig } from "vitest/config";
import LongestFirstSequencer from "./tests/sequencer.js";

// Three tiers (see docs/ARCHITECTURE.md): unit (no model), model (real node-llama-cpp on generated fixture
// GGUFs), e2e (the built CLI in a child process). All three run in `npm test` and in CI.
export default defineConfig({
  test: {
    // Longest files first, from the committed durations where vitest has none cached (a clean clone).
    sequence: { sequencer: LongestFirstSequencer },
    projects: [
      {
        test: {
          name: "unit",
          include: ["tests/unit/**/*.test.ts"],
          // Tiers run one after another (unit, model, e2e): model and e2e tests each want the CPU to themselves.
          sequence: { groupOrder: 0 },
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "model",
          include: ["tests/model/**/*.test.ts"],
          sequence: { groupOrder: 1 },
          // Each file loads llama.cpp once; tests use maxThreads 1, so two files fit the two cores.
          testTimeout: 120_000,
          hookTimeout: 120_000,
          pool: "forks",
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["tests/e2e/**/*.test.ts"],
          sequence: { groupOrder: 2 },
          testTimeout: 180_000,
          hookTimeout: 180_000,
          pool: "forks",
          maxWorkers: 2,
        },
      },
    ],
  },
});
