/**
 * Which chat wrapper renders a model's prompts: the one node-llama-cpp resolves for the model's template, or
 * a `JinjaTemplateChatWrapper` that renders the template itself. node-llama-cpp resolves a template to a
 * hand-written wrapper when it finds them equivalent, but its check is loose: Gemma's wrapper joins the system
 * and user texts with `\n\n---\n\n` where Gemma 3's template writes `\n\n`, and Qwen3's template opens the
 * answer of a non-thinking turn with an empty think block the Qwen wrapper leaves out. So both are rendered on
 * probe conversations of the kinds a worker sends — system + user + the start of the answer, a repair after
 * an earlier answer, tools documented, a tool call and its result in the answer — and the template's own
 * rendering wins wherever the two differ. Equal renderings keep the hand-written wrapper (its stop triggers
 * and segment handling are finer).
 *
 * No prompt depends on the clock: a template that reads `strftime_now` gets a fixed one (the date Llama 3.x
 * templates fall back to when no clock exists), and wrappers that write today's date (Llama 3.1, Llama 3.2)
 * get that date too, so prompts — and the evaluated prefixes reused between subtasks — are the same every day.
 */
import {
  type ChatHistoryItem,
  type ChatModelFunctions,
  type ChatWrapper,
  JinjaTemplateChatWrapper,
  type JinjaTemplateChatWrapperOptions,
  type Tokenizer,
} from "node-llama-cpp";

/**
 * The date every prompt is rendered with: 26 July 2024, what Llama 3.x templates write when no clock is
 * available (`{%- set date_string = "26 Jul 2024" %}`). A wall-clock date would change the prompt, and so the
 * reusable prefix, every day.
 */
export const TEMPLATE_DATE = new Date("2024-07-26T00:00:00Z");

// strftime for the fixed date, as a Jinja macro: a template-level `strftime_now` shadows the renderer's clock.
const STRFTIME_CODES: ReadonlyArray<readonly [string, string]> = [
  ["%d", "26"],
  ["%e", "26"],
  ["%m", "07"],
  ["%b", "Jul"],
  ["%B", "July"],
  ["%Y", "2024"],
  ["%y", "24"],
  ["%a", "Fri"],
  ["%A", "Friday"],
  ["%j", "208"],
  ["%H", "00"],
  ["%I", "12"],
  ["%M", "00"],
  ["%S", "00"],
  ["%p", "AM"],
];
const FIXED_CLOCK_MACRO = `{%- macro strftime_now(format) -%}{{- format${STRFTIME_CODES.map(
  ([code, value]) => ` | replace("${code}", "${value}")`,
).join("")} -}}{%- endmacro -%}`;

/**
 * The template with the clock replaced by {@link TEMPLATE_DATE}: a template that calls `strftime_now` (Llama
 * 3.2's and 3.3's do, when no `date_string` is passed) would otherwise write today's date, since the Jinja
 * renderer node-llama-cpp uses provides a real `strftime_now`. Templates that never read it are returned as is.
 */
export function withFixedClock(template: string): string {
  return template.includes("strftime_now") ? FIXED_CLOCK_MACRO + template : template;
}

/**
 * Options for a `JinjaTemplateChatWrapper` that renders `template` as a worker needs it:
 *
 * - `reasoning: false` (the template's `enable_thinking=false`): a worker's turn is an answer or a call under a
 *   grammar from its first token, so there is no room for thinking, and templates that can think (Qwen3) have
 *   a non-thinking form for exactly that — an empty think block opening the answer.
 * - a template without system messages gets the system text at the head of the first user message, followed by
 *   a blank line (what Gemma 3's template does itself), instead of node-llama-cpp's `### System message` frame.
 * - function calls in the template's own syntax where it has one (Qwen's `<tool_call>`), else node-llama-cpp's
 *   generic syntax, documented in the system message.
 * - a fixed clock ({@link withFixedClock}).
 */
export function templateWrapperOptions(
  template: string,
  tokenizer?: Tokenizer,
  functionCalls: "auto" | "noJinja" = "auto",
): JinjaTemplateChatWrapperOptions {
  return {
    template: withFixedClock(template),
    reasoning: false,
    convertUnsupportedSystemMessagesToUserMessages: { use: "ifNeeded", format: "{{message}}" },
    functionCallMessageTemplate: functionCalls,
    ...(tokenizer === undefined ? {} : { tokenizer }),
  };
}

/**
 * Settings for `resolveChatWrapper`'s `customWrapperSettings`: the wrappers that write today's date (Llama 3.1,
 * Llama 3.2) write {@link TEMPLATE_DATE} instead.
 */
export const RESOLVED_WRAPPER_SETTINGS = {
  "llama3.1": { todayDate: TEMPLATE_DATE },
  "llama3.2-lightweight": { todayDate: TEMPLATE_DATE },
} as const;

const PROBE_SYSTEM = "You are a careful assistant.\nAnswer with JSON only.";
const PROBE_USER = "Overall task: plan a trip.\n\nYour step: pick a day.";
const PROBE_FUNCTIONS: ChatModelFunctions = {
  lookup: {
    description: "Looks a fact up.",
    params: {
      type: "object",
      properties: { query: { type: "string" } },
      required: ["query"],
    },
  },
};

interface Probe {
  readonly name: string;
  readonly history: readonly ChatHistoryItem[];
  readonly functions?: ChatModelFunctions;
}

/** The conversations a worker renders: see the file comment. */
const PROBES: readonly Probe[] = [
  {
    name: "system + user",
    history: [
      { type: "system", text: PROBE_SYSTEM },
      { type: "user", text: PROBE_USER },
      { type: "model", response: [] },
    ],
  },
  {
    name: "repair after an answer",
    history: [
      { type: "system", text: PROBE_SYSTEM },
      { type: "user", text: PROBE_USER },
      { type: "model", response: ['{"day": 3}'] },
      { type: "user", text: "Your answer is not valid:\n- day: too big" },
      { type: "model", response: [] },
    ],
  },
  {
    name: "tools documented",
    history: [
      { type: "system", text: PROBE_SYSTEM },
      { type: "user", text: PROBE_USER },
      { type: "model", response: [] },
    ],
    functions: PROBE_FUNCTIONS,
  },
  {
    name: "after a tool call",
    history: [
      { type: "system", text: PROBE_SYSTEM },
      { type: "user", text: PROBE_USER },
      {
        type: "model",
        response: [
          {
            type: "functionCall",
            name: "lookup",
            description: PROBE_FUNCTIONS.lookup?.description,
            params: { query: "weather" },
            result: { ok: true, output: "sunny" },
          },
        ],
      },
    ],
    functions: PROBE_FUNCTIONS,
  },
];

/** How a wrapper renders a probe: its tokens (or text, without a tokenizer), or the error it throws. */
function render(wrapper: ChatWrapper, probe: Probe, tokenizer: Tokenizer | undefined): string | Error {
  try {
    const { contextText } = wrapper.generateContextState({
      chatHistory: [...probe.history],
      ...(probe.functions === undefined ? {} : { availableFunctions: probe.functions }),
    });
    return tokenizer === undefined ? contextText.toString() : contextText.tokenize(tokenizer).join(",");
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** Which wrapper {@link chooseChatWrapper} picked, and why. */
export interface ChatWrapperChoice {
  readonly wrapper: ChatWrapper;
  /** `resolved`: node-llama-cpp's wrapper; `template`: a JinjaTemplateChatWrapper on the model's template. */
  readonly source: "resolved" | "template";
  /** The probes on which the two rendered differently (empty when the resolved wrapper was kept). */
  readonly differences: readonly string[];
  /** Why the template was not used, when it could not be (it failed to build or to render a probe). */
  readonly templateProblem?: string;
}

/** Options of {@link chooseChatWrapper}. */
export interface ChooseChatWrapperOptions {
  /** node-llama-cpp's wrapper for the model (resolved with {@link RESOLVED_WRAPPER_SETTINGS}). */
  readonly resolved: ChatWrapper;
  /** The model's `tokenizer.chat_template`; none: the resolved wrapper is used. */
  readonly template: string | undefined;
  /** The model's tokenizer: renderings are compared as tokens, and template wrappers detect think tags with it. */
  readonly tokenizer?: Tokenizer;
  /** Whether edgecrew can use a wrapper (it must have a function-call syntax edgecrew can write and read). */
  readonly usable?: (wrapper: ChatWrapper) => boolean;
}

/**
 * Picks the wrapper a model's prompts are rendered with (see the file comment): the template's own rendering
 * wherever node-llama-cpp's wrapper differs from it, the resolved wrapper where they agree, or where the
 * template cannot render what a worker sends (then `templateProblem` says why).
 *
 * @example
 * const choice = chooseChatWrapper({ resolved: resolveChatWrapper(model), template, tokenizer: model.tokenizer });
 * choice.source; // "template" for Gemma 3 and Qwen3, "resolved" for ChatML
 */
export function chooseChatWrapper(options: ChooseChatWrapperOptions): ChatWrapperChoice {
  const { resolved, template, tokenizer } = options;
  const keep = (templateProblem?: string): ChatWrapperChoice => ({
    wrapper: resolved,
    source: "resolved",
    differences: [],
    ...(templateProblem === undefined ? {} : { templateProblem }),
  });
  if (template === undefined || template.trim() === "") return keep();
  const usable = options.usable ?? (() => true);
  let jinja: JinjaTemplateChatWrapper | undefined;
  const problems: string[] = [];
  // The template's own call syntax first; node-llama-cpp's generic one where edgecrew cannot use that.
  for (const functionCalls of ["auto", "noJinja"] as const) {
    try {
      const candidate = new JinjaTemplateChatWrapper(
        templateWrapperOptions(template, tokenizer, functionCalls),
      );
      if (usable(candidate)) {
        jinja = candidate;
        break;
      }
      problems.push(`its ${functionCalls === "auto" ? "own" : "generic"} call syntax is not usable`);
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
      break;
    }
  }
  if (jinja === undefined) return keep(`the template wrapper cannot be used: ${problems.join("; ")}`);
  const differences: string[] = [];
  for (const probe of PROBES) {
    const own = render(jinja, probe, tokenizer);
    if (own instanceof Error) return keep(`the template cannot render "${probe.name}": ${own.message}`);
    if (render(resolved, probe, tokenizer) !== own) differences.push(probe.name);
  }
  return differences.length === 0 ? keep() : { wrapper: jinja, source: "template", differences };
}
