import {
  type ChatHistoryItem,
  ChatMLChatWrapper,
  type ChatWrapper,
  JinjaTemplateChatWrapper,
  resolveChatWrapper,
} from "node-llama-cpp";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CHATML_CHAT_TEMPLATE } from "../../../src/testing/fixtureModel.js";
import {
  type ChatWrapperChoice,
  chooseChatWrapper,
  RESOLVED_WRAPPER_SETTINGS,
  templateWrapperOptions,
  withFixedClock,
} from "../../../src/workers/chatTemplate.js";

// Meta's Llama 3.2 instruct template, abridged to what a worker's turns use (system, user, assistant), with its
// date block verbatim: when no `date_string` is passed it asks `strftime_now` for today's date, which the Jinja
// engine node-llama-cpp renders with provides.
const LLAMA_3_2_TEMPLATE = `{{- bos_token }}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}`;

// The toy fixture's template (ChatML with a BOS token).
const CHATML_TEMPLATE = CHATML_CHAT_TEMPLATE;

const HISTORY: ChatHistoryItem[] = [
  { type: "system", text: "You plan trips." },
  { type: "user", text: "Pick a day." },
  { type: "model", response: [] },
];

const render = (wrapper: ChatWrapper) =>
  wrapper.generateContextState({ chatHistory: HISTORY }).contextText.toString();

/** Renders with the clock set to each date in turn. */
function onDates(dates: readonly string[], renderNow: () => string): string[] {
  vi.useFakeTimers({ toFake: ["Date"] });
  return dates.map((date) => {
    vi.setSystemTime(new Date(date));
    return renderNow();
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("the fixed clock", () => {
  it("formats strftime codes for 26 July 2024 and leaves templates without a clock alone", () => {
    const template = withFixedClock('{{ strftime_now("%d %b %Y|%Y-%m-%d|%A %B %e") }}');
    const wrapper = new JinjaTemplateChatWrapper({
      template: `${template}{% for m in messages %}{{ m.content }}{% endfor %}`,
    });
    expect(render(wrapper)).toContain("26 Jul 2024|2024-07-26|Friday July 26");
    expect(withFixedClock(CHATML_TEMPLATE)).toBe(CHATML_TEMPLATE);
  });

  it("is needed: the raw template and node-llama-cpp's Llama 3.x wrappers write today's date", () => {
    const raw = onDates(["2031-01-05T10:00:00Z", "2033-06-17T10:00:00Z"], () =>
      render(new JinjaTemplateChatWrapper({ template: LLAMA_3_2_TEMPLATE })),
    );
    expect(raw[0]).toContain("Today Date: 05 Jan 2031");
    expect(raw[1]).toContain("Today Date: 17 Jun 2033");
    const wrapper = resolveChatWrapper({ type: "llama3.1" });
    const resolved = onDates(["2031-01-05T10:00:00Z", "2033-06-17T10:00:00Z"], () =>
      render(wrapper as ChatWrapper),
    );
    expect(resolved[0]).not.toBe(resolved[1]);
  });
});

describe("chooseChatWrapper", () => {
  it("renders a template that reads the clock identically on two dates, with the template's own fallback date", () => {
    // node-llama-cpp resolves this template to its Llama 3.1 wrapper (which writes a date of its own); resolving
    // it from the template takes seconds of equivalence checks, so the wrapper is named here.
    const resolved = resolveChatWrapper({
      type: "llama3.1",
      customWrapperSettings: RESOLVED_WRAPPER_SETTINGS,
    }) as ChatWrapper;
    const choices: ChatWrapperChoice[] = [];
    const [first, second] = onDates(["2031-01-05T10:00:00Z", "2033-06-17T23:30:00Z"], () => {
      const choice = chooseChatWrapper({ resolved, template: LLAMA_3_2_TEMPLATE });
      choices.push(choice);
      return render(choice.wrapper);
    });
    expect(choices.map((choice) => choice.source)).toEqual(["template", "template"]);
    expect(first).toBe(second);
    expect(first).toContain("Today Date: 26 Jul 2024");
    expect(first).not.toMatch(/2031|2033/);
  });

  it("keeps node-llama-cpp's Llama 3.1 wrapper date-free too", () => {
    const [first, second] = onDates(["2031-01-05T10:00:00Z", "2033-06-17T23:30:00Z"], () =>
      render(
        resolveChatWrapper({
          type: "llama3.1",
          customWrapperSettings: RESOLVED_WRAPPER_SETTINGS,
        }) as ChatWrapper,
      ),
    );
    expect(first).toBe(second);
    expect(first).toContain("26 Jul 2024");
  });

  it("keeps the resolved wrapper where it renders what the template renders (ChatML)", () => {
    const choice = chooseChatWrapper({ resolved: new ChatMLChatWrapper(), template: CHATML_TEMPLATE });
    expect(choice).toMatchObject({ source: "resolved", differences: [] });
    expect(choice.wrapper).toBeInstanceOf(ChatMLChatWrapper);
  });

  it("uses the template where the resolved wrapper renders differently, and says on which probes", () => {
    // A wrapper that frames the system text unlike the template does.
    const choice = chooseChatWrapper({
      resolved: resolveChatWrapper({ type: "gemma" }) as ChatWrapper,
      template: CHATML_TEMPLATE,
    });
    expect(choice.source).toBe("template");
    expect(choice.wrapper).toBeInstanceOf(JinjaTemplateChatWrapper);
    expect(choice.differences).toContain("system + user");
    expect(render(choice.wrapper)).toContain(
      "<|im_start|>system\nYou plan trips.<|im_end|>\n<|im_start|>user\nPick a day.<|im_end|>\n<|im_start|>assistant\n",
    );
  });

  it("keeps the resolved wrapper when the template is missing, broken, or has no usable call syntax", () => {
    const resolved = new ChatMLChatWrapper();
    expect(chooseChatWrapper({ resolved, template: undefined }).source).toBe("resolved");
    const broken = chooseChatWrapper({ resolved, template: "{% for m in messages %}{{ m.content " });
    expect(broken.source).toBe("resolved");
    expect(broken.templateProblem).toMatch(/template wrapper cannot be used/);
    const unusable = chooseChatWrapper({ resolved, template: CHATML_TEMPLATE, usable: () => false });
    expect(unusable.source).toBe("resolved");
    expect(unusable.templateProblem).toMatch(/call syntax is not usable/);
  });

  it("builds template wrappers that render non-thinking turns and put a lone system text before the user's", () => {
    const options = templateWrapperOptions(CHATML_TEMPLATE);
    expect(options).toMatchObject({
      reasoning: false,
      convertUnsupportedSystemMessagesToUserMessages: { use: "ifNeeded", format: "{{message}}" },
    });
    // A template that refuses system messages gets the system text at the head of the first user message.
    const noSystem = new JinjaTemplateChatWrapper(
      templateWrapperOptions(
        "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('no system') }}{% endif %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}",
      ),
    );
    expect(render(noSystem)).toBe("<user>You plan trips.\n\nPick a day.</user><assistant>");
  });
});
