/**
 * The planner layer: plan schema and validation, prompts, and the planner port over LangChain chat models.
 * Only this folder imports LangChain chat-model code; createCrew loads it lazily.
 */
export { createLangChainPlanner, type LangChainPlannerOptions } from "./LangChainPlanner.js";
export {
  DEFAULT_ANSWER_SCHEMA,
  fittedJoinSchema,
  instructionBudget,
  joinSchema,
  MAX_INSTRUCTION_LENGTH,
  type PlanReply,
  planGrammarSchema,
  plannerBudgetProblems,
  planReplySchema,
  positionalId,
} from "./planSchema.js";
export { createRemoteChatModel, type RemoteModelOptions } from "./remoteModel.js";
export { findCycle, type PlanValidation, type PlanValidationOptions, validatePlan } from "./validatePlan.js";
