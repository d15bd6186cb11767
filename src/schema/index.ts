/** JSON Schema helpers shared by every layer: compile once and validate with zod, describe for prompts. */
export {
  type CompiledSchema,
  compileSchema,
  formatPath,
  formatZodIssues,
  parseJsonAgainst,
  type ValidationResult,
} from "./compile.js";
export { DEFAULT_WORKER_OUTPUT, describeSchema, describeType } from "./describe.js";
