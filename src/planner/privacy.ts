/**
 * Privacy at the one place where content leaves the device: the prompts of a remote planner. A guard, one per
 * conversation (plan, join, solve), builds the request's view that may be sent — private answers as
 * placeholders (`redact`) or withheld / refused (`strict`) — records where every part came from (the data-flow
 * ledger's origins), checks the final messages for any private value still in them, and fills placeholders in
 * the planner's reply back in, locally.
 */
import type { BaseMessage } from "@langchain/core/messages";
import { EdgecrewError, ErrorCodes } from "../errors.js";
import type { CallPrivacy, FlowOrigin, JsonValue, PrivacyPolicy } from "../types.js";

/** What a conversation is for, as the ledger names it. */
export type RequestPurpose = "plan" | "replan" | "join" | "solve" | "repair";

const OPEN = "⟨private:";
const CLOSE = "⟩";
// Private strings shorter than this are not searched for in free text (they would match ordinary words); they
// are still replaced wherever edgecrew places a private answer itself.
const MIN_SCANNED_LENGTH = 4;

/** The placeholder that stands for a private value at `path` (`task`, `s2.answer.name`). */
export function privatePlaceholder(path: string): string {
  return `${OPEN}${path}${CLOSE}`;
}

/** A message as an OpenAI-compatible body lists it: role and content. */
function wireMessage(message: BaseMessage): { role: string; content: unknown } {
  const type = message.getType();
  const role = type === "human" ? "user" : type === "ai" ? "assistant" : type === "system" ? "system" : type;
  return { role, content: message.content };
}

/**
 * The size the ledger records for a request: UTF-8 bytes of its messages serialized as an OpenAI-compatible
 * body's `messages` array (`[{"role":"system","content":"…"},…]`). The rest of a provider's body (model name,
 * schema of the reply) is edgecrew's own text, not the run's data.
 */
export function messageBytes(messages: readonly BaseMessage[]): number {
  return Buffer.byteLength(JSON.stringify(messages.map(wireMessage)), "utf8");
}

function textOf(message: BaseMessage): string {
  return typeof message.content === "string" ? message.content : JSON.stringify(message.content);
}

interface PrivateValue {
  readonly text: string;
  readonly placeholder: string;
  readonly value: JsonValue;
}

/** One conversation's privacy: build the sendable view, check it, fill replies back in. */
export interface PromptGuard {
  /** The origins of the conversation so far (for `planner.request`). */
  readonly origins: readonly FlowOrigin[];
  /** The task as it may be sent. */
  task(task: string): string;
  /** The plan's instructions are planner-written: a public origin. */
  plan(id?: string): void;
  /** A subtask's answer as it may be sent (strict: a note that it is withheld, when private). */
  answer(subtaskId: string, answer: JsonValue): JsonValue;
  /** An escalated subtask's dependency answer: strict refuses a private one, redact sends placeholders. */
  dependency(subtaskId: string, answer: JsonValue): JsonValue;
  /** A worker's errors before an escalation: withheld when the worker is private (they may quote its data). */
  errors(subtaskId: string, errors: readonly string[]): readonly string[];
  /**
   * The messages to send: throws PRIVACY_VIOLATION (strict) when a private value would leave; otherwise the
   * messages with every private value that is still in their text replaced by its placeholder (redact).
   */
  outgoing(messages: readonly BaseMessage[], purpose: RequestPurpose): BaseMessage[];
  /** A reply with the placeholders it quotes filled back in with the private values (redact). */
  fill(value: JsonValue): JsonValue;
}

/**
 * Creates the guard for one conversation with a remote planner; `privacy` absent means nothing in it is private
 * (the guard then only records origins).
 */
export function createPromptGuard(options: {
  readonly privacy: CallPrivacy | undefined;
  readonly model: string;
  readonly subtaskId?: string;
}): PromptGuard {
  const privacy = options.privacy;
  const policy: PrivacyPolicy = privacy?.policy ?? "strict";
  const privateResults = new Set(privacy?.results ?? []);
  const origins: FlowOrigin[] = [];
  const values: PrivateValue[] = [];
  // Private origins strict mode cannot send at all (the request fails before it is sent).
  const refused: FlowOrigin[] = [];

  const origin = (entry: FlowOrigin): void => {
    if (!origins.some((o) => o.kind === entry.kind && o.id === entry.id)) origins.push(entry);
  };

  // Replaces every leaf of a private value by its placeholder (keys stay: they are the worker's public schema).
  function redactTree(value: JsonValue, path: string): JsonValue {
    if (Array.isArray(value)) return value.map((item, i) => redactTree(item, `${path}.${i}`));
    if (value !== null && typeof value === "object") {
      const out: Record<string, JsonValue> = {};
      for (const [key, item] of Object.entries(value)) out[key] = redactTree(item, `${path}.${key}`);
      return out;
    }
    const placeholder = privatePlaceholder(path);
    values.push({ text: typeof value === "string" ? value : JSON.stringify(value), placeholder, value });
    return placeholder;
  }

  /**
   * A subtask's answer as a request may carry it: as it is when public, as placeholders under `redact`; undefined
   * when it must be withheld (the caller words that). A private answer's values are registered either way, for the
   * verbatim check of what is finally sent.
   */
  function resultAsSent(subtaskId: string, answer: JsonValue): { value: JsonValue } | undefined {
    if (!privateResults.has(subtaskId)) {
      origin({ kind: "result", id: subtaskId, private: false });
      return { value: answer };
    }
    const redacted = redactTree(answer, `${subtaskId}.answer`);
    if (policy !== "redact") return undefined;
    origin({ kind: "result", id: subtaskId, private: true, sent: "placeholders" });
    return { value: redacted };
  }

  function violation(purpose: RequestPurpose, what: readonly FlowOrigin[], found?: string): EdgecrewError {
    const names = what.map((o) =>
      o.kind === "task"
        ? "the private task"
        : o.kind === "result"
          ? `the answer of ${o.id}`
          : `${o.kind} of ${o.id}`,
    );
    const where = options.subtaskId === undefined ? purpose : `${purpose} of subtask ${options.subtaskId}`;
    return new EdgecrewError(
      ErrorCodes.PRIVACY_VIOLATION,
      `privacy policy strict: the ${where} request to the remote planner ${options.model} would carry ${names.join(", ")}${found === undefined ? "" : ` (a private value found in its text: ${found})`}; nothing was sent`,
      {
        context: {
          purpose,
          model: options.model,
          origins: what.map((o) => ({ ...o })),
          ...(options.subtaskId === undefined ? {} : { subtaskId: options.subtaskId }),
        },
      },
    );
  }

  return {
    origins,
    task(task) {
      if (privacy?.task !== true) {
        origin({ kind: "task", id: "task", private: false });
        return task;
      }
      if (policy === "strict") {
        const entry: FlowOrigin = { kind: "task", id: "task", private: true, sent: "withheld" };
        origin(entry);
        refused.push(entry);
        values.push({ text: task, placeholder: privatePlaceholder("task"), value: task });
        return privatePlaceholder("task");
      }
      origin({ kind: "task", id: "task", private: true, sent: "placeholders" });
      values.push({ text: task, placeholder: privatePlaceholder("task"), value: task });
      return `${privatePlaceholder("task")} (the task is private: the workers see it on the device, you do not)`;
    },
    plan(id = "plan") {
      origin({ kind: "plan", id, private: false });
    },
    answer(subtaskId, answer) {
      const sent = resultAsSent(subtaskId, answer);
      if (sent !== undefined) return sent.value;
      origin({ kind: "result", id: subtaskId, private: true, sent: "withheld" });
      return "(private: withheld, kept on the device)";
    },
    dependency(subtaskId, answer) {
      const sent = resultAsSent(subtaskId, answer);
      if (sent !== undefined) return sent.value;
      const entry: FlowOrigin = { kind: "result", id: subtaskId, private: true, sent: "withheld" };
      origin(entry);
      refused.push(entry);
      return "(private)";
    },
    errors(subtaskId, errors) {
      if (privacy?.worker !== true) {
        origin({ kind: "errors", id: subtaskId, private: false });
        return errors;
      }
      origin({ kind: "errors", id: subtaskId, private: true, sent: "withheld" });
      return ["(the worker is private: its errors are withheld)"];
    },
    outgoing(messages, purpose) {
      if (refused.length > 0) throw violation(purpose, refused);
      // Longest first, so that a value containing another is replaced whole.
      const scanned = values
        .filter((v) => v.text.length >= MIN_SCANNED_LENGTH)
        .sort((a, b) => b.text.length - a.text.length);
      if (scanned.length === 0) return [...messages];
      return messages.map((message) => {
        const text = textOf(message);
        let sent = text;
        for (const value of scanned) {
          if (!sent.includes(value.text)) continue;
          if (policy === "strict") {
            const owner = origins.find(
              (o) => o.private && value.placeholder.startsWith(`${OPEN}${o.id}`),
            ) ?? {
              kind: "result" as const,
              id: value.placeholder.slice(OPEN.length, -CLOSE.length),
              private: true,
            };
            throw violation(purpose, [owner], value.placeholder);
          }
          sent = sent.split(value.text).join(value.placeholder);
        }
        if (sent === text) return message;
        const Type = message.constructor as new (content: string) => BaseMessage;
        return new Type(sent);
      });
    },
    fill(value) {
      if (values.length === 0) return value;
      const byPlaceholder = new Map(values.map((v) => [v.placeholder, v]));
      const fillText = (text: string): JsonValue => {
        const whole = byPlaceholder.get(text);
        if (whole !== undefined) return whole.value;
        if (!text.includes(OPEN)) return text;
        return text.replace(/⟨private:[^⟩]*⟩/g, (found) => byPlaceholder.get(found)?.text ?? found);
      };
      const walk = (item: JsonValue): JsonValue => {
        if (typeof item === "string") return fillText(item);
        if (Array.isArray(item)) return item.map(walk);
        if (item !== null && typeof item === "object") {
          const out: Record<string, JsonValue> = {};
          for (const [key, inner] of Object.entries(item)) out[key] = walk(inner);
          return out;
        }
        return item;
      };
      return walk(value);
    },
  };
}
