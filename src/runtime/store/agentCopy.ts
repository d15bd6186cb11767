/**
 * The agent copy a run keeps in its meta.json (see AgentCopy in types.ts): the YAML text the run started from and
 * its SHA-256, so that `edgecrew resume` rebuilds the agent from the run itself instead of loading whatever file
 * a path in the run directory names, and so that load can tell a copy that was changed afterwards.
 */
import { createHash } from "node:crypto";
import type { AgentCopy } from "../../types.js";

/** The hash an agent copy carries: lower-case hex SHA-256 of its text as UTF-8. */
export function agentCopyHash(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/**
 * The copy of agent file `file` whose text is `text`.
 *
 * @example
 * makeAgentCopy("/home/me/agents/demo.yaml", "name: demo\n…"); // { file, text, sha256: "3b1f…" }
 */
export function makeAgentCopy(file: string, text: string): AgentCopy {
  return { file, text, sha256: agentCopyHash(text) };
}
