/** The GGUF header check the CLI hands to the agent loader (the config layer may not read model files itself). */
import type { ModelFileCheck } from "../config/index.js";
import { isModelError } from "../errors.js";

/** The message of a ModelError for an unusable model file, or undefined when the file is a usable GGUF. */
export const checkModelFile: ModelFileCheck = async (path) => {
  const { inspectModelFile } = await import("../workers/ggufCheck.js");
  try {
    await inspectModelFile(path);
    return undefined;
  } catch (error) {
    if (isModelError(error)) return error.message;
    throw error;
  }
};
