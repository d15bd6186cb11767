/**
 * One tool of an MCP server as an edgecrew {@link Tool}: named `server.tool`, described as the server
 * describes it, its arguments checked against the server's JSON Schema by edgecrew's own validator before
 * anything is sent, and its result mapped to JSON (`isError` results become failures the model sees as data).
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Tool as McpToolInfo } from "@modelcontextprotocol/sdk/types.js";
import { compileSchema } from "../../schema/compile.js";
import type { JsonSchema, JsonValue, ToolCallContext, ToolSpec } from "../../types.js";
import { checkOutput, TOOL_NAME_PATTERN, type Tool } from "../defineTool.js";
import { toJsonValue } from "../jsonValue.js";
import type { McpServerError } from "./McpServerError.js";

/** What an adapted tool needs of its server connection. */
export interface McpToolHost {
  /** The server's name from the agent (the namespace of its tools). */
  readonly server: string;
  readonly client: Client;
  /** Per-call timeout in ms, when the agent sets one (else the registry's default applies). */
  readonly timeoutMs?: number;
  /** The agent's `approve` for this server, which overrides the default taken from the tool's annotations. */
  readonly approve?: boolean;
  /** The error calls fail with once the server has exited; undefined while it runs. */
  deadError(): McpServerError | undefined;
}

/** An adapted tool, or why the server's tool cannot be offered. */
export type McpToolAdaptation =
  | { readonly ok: true; readonly tool: Tool }
  | { readonly ok: false; readonly reason: string };

// The SDK's own request timeout (60 s) would otherwise cut calls the agent allows to run longer.
const NO_SDK_TIMEOUT_MS = 2 ** 31 - 1;

function inputSchemaOf(info: McpToolInfo): JsonSchema | string {
  const checked = toJsonValue(info.inputSchema);
  if (
    !checked.ok ||
    typeof checked.value !== "object" ||
    checked.value === null ||
    Array.isArray(checked.value)
  )
    return "its input schema is not a JSON object";
  // `$schema` is noise in prompts and grammars (and names a draft the validator does not need).
  const { $schema: _ignored, ...schema } = checked.value;
  if (schema.type !== "object") return 'its input schema does not describe an object (type: "object")';
  return schema;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The text of an `isError` result, for the failure message the model gets. */
function errorText(content: readonly unknown[]): string {
  const texts = content.flatMap((part) =>
    typeof part === "object" && part !== null && "text" in part && typeof part.text === "string"
      ? [part.text]
      : [],
  );
  return texts.join("\n") || "the tool reported an error";
}

/**
 * What the server's annotations mean for edgecrew (they are hints, but the only knowledge of side effects there
 * is). Read-only: idempotent, so a resumed run may simply call it again. Destructive (and not read-only):
 * never idempotent — even when the server also says idempotentHint, replaying a destructive call whose result
 * was lost is not something to do silently — and approval is on unless the agent's entry says otherwise.
 * Anything else: idempotent only when the server says so, and no approval by default.
 */
function effectsOf(
  info: McpToolInfo,
  approve: boolean | undefined,
): { idempotent: boolean; approve: boolean } {
  const hints = info.annotations;
  const readOnly = hints?.readOnlyHint === true;
  const destructive = !readOnly && hints?.destructiveHint === true;
  return {
    idempotent: readOnly || (!destructive && hints?.idempotentHint === true),
    approve: approve ?? destructive,
  };
}

/** The reason edgecrew skips a tool the server can only run as a task (MCP tasks are not supported). */
export const TASK_REQUIRED_REASON =
  'it requires task-based execution (execution.taskSupport: "required"), which edgecrew does not support';

/**
 * Adapts one listed tool. A tool whose name or schema edgecrew cannot use is not an error of the whole server:
 * the result says why, and the caller skips it with a warning.
 */
export function adaptMcpTool(info: McpToolInfo, host: McpToolHost): McpToolAdaptation {
  const name = `${host.server}.${info.name}`;
  if (!TOOL_NAME_PATTERN.test(name)) return { ok: false, reason: `\`${name}\` is not a valid tool name` };
  // Every plain call of such a tool fails (-32600 "requires task-based execution"): offering it would only
  // teach the model to call something that cannot work.
  if (info.execution?.taskSupport === "required") return { ok: false, reason: TASK_REQUIRED_REASON };
  const input = inputSchemaOf(info);
  if (typeof input === "string") return { ok: false, reason: input };
  let compiled: ReturnType<typeof compileSchema>;
  try {
    compiled = compileSchema(input);
  } catch (error) {
    return { ok: false, reason: messageOf(error) };
  }
  const spec: ToolSpec = Object.freeze({
    name,
    description: info.description ?? info.title ?? `The ${info.name} tool of the MCP server ${host.server}.`,
    input,
    // Without hints, assume side effects: not idempotent.
    ...effectsOf(info, host.approve),
  });

  const run = async (args: unknown, context: ToolCallContext): Promise<JsonValue> => {
    const dead = host.deadError();
    if (dead !== undefined) throw dead;
    let result: Awaited<ReturnType<Client["callTool"]>>;
    try {
      result = await host.client.callTool(
        { name: info.name, arguments: args as Record<string, unknown> },
        undefined,
        {
          signal: context.signal,
          timeout: host.timeoutMs ?? NO_SDK_TIMEOUT_MS,
          // Passing a callback makes the SDK send a progressToken; the server's notifications become events.
          onprogress: ({ progress, total, message }) => {
            try {
              context.emit({
                type: "tool.progress",
                subtaskId: context.subtaskId,
                tool: name,
                progress,
                ...(total === undefined ? {} : { total }),
                ...(message === undefined ? {} : { message }),
              });
            } catch {
              // A throwing event listener must not fail the call (as in the registry's own events).
            }
          },
        },
      );
    } catch (error) {
      // A call in flight when the server died fails with the SDK's "connection closed": say what happened.
      throw host.deadError() ?? error;
    }
    const content = Array.isArray(result.content) ? (result.content as unknown[]) : [];
    if (result.isError === true) throw new Error(errorText(content));
    const structured = result.structuredContent;
    if (structured !== undefined) return structured as JsonValue;
    return { content: content as JsonValue[] };
  };

  const tool: Tool = {
    spec,
    ...(host.timeoutMs === undefined ? {} : { timeoutMs: host.timeoutMs }),
    // The model's arguments are sent unchanged when valid: the server validates with its own schema too.
    parseArgs: (args) => {
      const checked = compiled.validate(args);
      return checked.ok ? { ok: true, value: args } : checked;
    },
    parseOutput: (value) => checkOutput(value, undefined),
    run,
  };
  return { ok: true, tool: Object.freeze(tool) };
}
