/**
 * The runtime: the xstate orchestrator, the DAG scheduler, events and the usage ledger. It sees the planner and
 * the workers only through the ports in types.ts — never LangChain, node-llama-cpp, planner/ or workers/.
 */
export { EventHub, type RunEventListener } from "./EventHub.js";
export { buildLedger } from "./ledger.js";
export {
  createOrchestratorMachine,
  type OrchestratorContext,
  type OrchestratorEvent,
  type OrchestratorInput,
  type OrchestratorMachine,
  type OrchestratorPorts,
} from "./machine.js";
export { type DispatchLimits, pickDispatch, readySubtasks } from "./scheduler.js";
export { newRunId, type Run, type StartRunOptions, startRun } from "./startRun.js";
