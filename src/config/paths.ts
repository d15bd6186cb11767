/**
 * Where a path written in an agent definition points. Relative paths belong to the definition, not to the
 * shell that happens to run it, so they resolve against the YAML file's directory; `~/` means the home
 * directory, as it would in a shell.
 */
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/**
 * Resolves a path from an agent definition to an absolute path.
 *
 * @example
 * resolveDefinitionPath("./data", "/agents"); // "/agents/data"
 * resolveDefinitionPath("~/models/x.gguf", "/agents"); // "/home/me/models/x.gguf"
 */
export function resolveDefinitionPath(path: string, baseDir: string): string {
  if (path === "~" || path.startsWith("~/") || path.startsWith("~\\")) return join(homedir(), path.slice(1));
  return resolve(baseDir, path);
}
