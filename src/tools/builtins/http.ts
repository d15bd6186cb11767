/**
 * The `http` built-in: `http.get`, plus `http.request` for the other methods the agent allows. Every URL,
 * including every redirect hop, must match the allow-list (urlPattern.ts): redirects are followed by hand
 * (`redirect: "manual"`) so that a server inside the list cannot bounce the tool to one outside it. Responses
 * are read as a stream and cut at `maxBytes`, so a huge body never reaches memory, let alone a model.
 */
import { z } from "zod";
import { throwIfAborted } from "../../errors.js";
import { defineTool, type Tool } from "../defineTool.js";
import {
  type HttpToolMethod,
  type HttpToolOptions,
  httpToolOptionsSchema,
  parseToolOptions,
} from "./options.js";
import { checkUrl, parseUrlPattern, type UrlPattern, urlRefusal } from "./urlPattern.js";

/** Most redirects followed for one call. */
export const MAX_HTTP_REDIRECTS = 5;

// Response headers a model may see: enough to interpret the body, none that carry credentials or cookies.
const SAFE_RESPONSE_HEADERS = [
  "content-type",
  "content-length",
  "content-language",
  "last-modified",
  "etag",
  "cache-control",
  "date",
  "location",
  "retry-after",
] as const;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

type HttpOutput = {
  status: number;
  url: string;
  headers: { [name: string]: string };
  body: string;
  truncated: boolean;
};

interface RequestPlan {
  readonly url: string;
  readonly method: HttpToolMethod;
  readonly body: string | undefined;
  readonly contentType: string | undefined;
}

async function readBody(response: Response, maxBytes: number): Promise<{ body: string; truncated: boolean }> {
  const reader = response.body?.getReader();
  if (reader === undefined) return { body: "", truncated: false };
  const decoder = new TextDecoder("utf-8");
  let received = 0;
  let body = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { body: body + decoder.decode(), truncated: false };
      const room = maxBytes - received;
      if (value.byteLength > room) {
        // Stop reading here: the rest of the body is never downloaded.
        body += decoder.decode(value.subarray(0, room));
        return { body: body + decoder.decode(), truncated: true };
      }
      received += value.byteLength;
      body += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

function pickHeaders(headers: Headers): { [name: string]: string } {
  const picked: { [name: string]: string } = {};
  for (const name of SAFE_RESPONSE_HEADERS) {
    const value = headers.get(name);
    if (value !== null) picked[name] = value;
  }
  return picked;
}

// What a client does on a redirect: 303 always becomes GET, and so does a POST answered with 301/302 (as
// browsers do); the body goes with the method change.
function nextHop(plan: RequestPlan, status: number, location: string): RequestPlan {
  const toGet =
    (status === 303 && plan.method !== "HEAD") ||
    ((status === 301 || status === 302) && plan.method === "POST");
  return toGet
    ? { url: location, method: "GET", body: undefined, contentType: undefined }
    : { ...plan, url: location };
}

async function send(
  first: RequestPlan,
  allow: readonly UrlPattern[],
  options: HttpToolOptions,
  signal: AbortSignal,
): Promise<HttpOutput> {
  // The registry's deadline (the tool's `timeoutMs`) normally fires first; this backstop bounds direct use.
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs + 1000)]);
  let plan = first;
  for (let hop = 0; ; hop++) {
    // Throws TOOL_REFUSED before any request; what is sent is the URL exactly as it was judged.
    const target = checkUrl(plan.url, allow, hop === 0 ? "" : "refused to follow a redirect: ");
    throwIfAborted(signal);
    const headers: Record<string, string> = { "user-agent": "edgecrew", accept: "*/*" };
    if (plan.contentType !== undefined) headers["content-type"] = plan.contentType;
    const response = await fetch(target.href, {
      method: plan.method,
      headers,
      // fetch refuses a body on GET and HEAD; the schema cannot tie `body` to the method, so drop it here.
      ...(plan.body !== undefined && plan.method !== "GET" && plan.method !== "HEAD"
        ? { body: plan.body }
        : {}),
      redirect: "manual",
      signal: deadline,
    });
    const location = response.headers.get("location");
    if (REDIRECT_STATUSES.has(response.status) && location !== null) {
      await response.body?.cancel().catch(() => undefined);
      if (hop >= MAX_HTTP_REDIRECTS) throw new Error(`stopped after ${MAX_HTTP_REDIRECTS} redirects`);
      let target: string;
      try {
        target = new URL(location, plan.url).href;
      } catch {
        throw new Error(`the server redirected to an invalid URL ${JSON.stringify(location)}`);
      }
      plan = nextHop(plan, response.status, target);
      continue;
    }
    const { body, truncated } =
      plan.method === "HEAD" ? { body: "", truncated: false } : await readBody(response, options.maxBytes);
    return {
      status: response.status,
      url: plan.url,
      headers: pickHeaders(response.headers),
      body,
      truncated,
    };
  }
}

const httpOutput = z.object({
  status: z.number(),
  url: z.string(),
  headers: z.record(z.string(), z.string()),
  body: z.string(),
  truncated: z.boolean(),
});

/**
 * Creates the `http` family from its options: `http.get` when GET is allowed, `http.request` when any other
 * method is. Throws TOOL_INVALID for bad options or a malformed allow pattern.
 *
 * @example
 * const tools = createHttpTools({ allow: ["https://api.example.com/v1/*"], methods: ["GET", "POST"] });
 * // → http.get ({ url }) and http.request ({ url, method: "POST", body?, contentType? })
 */
export function createHttpTools(options: {
  allow: readonly string[];
  methods?: readonly HttpToolMethod[];
  timeoutMs?: number;
  maxBytes?: number;
  approve?: boolean;
}): Tool[] {
  const parsed = parseToolOptions("http", httpToolOptionsSchema, options);
  const allow = parsed.allow.map(parseUrlPattern);
  const allowedText = parsed.allow.join(", ");
  // A URL outside the list is the model's mistake in its arguments, so the schema reports it as invalid input.
  const url = z
    .string()
    .describe(`Absolute URL; must match one of: ${allowedText}`)
    .superRefine((value, ctx) => {
      const refusal = urlRefusal(value, allow);
      if (refusal !== undefined) ctx.addIssue({ code: "custom", message: refusal });
    });
  const common = {
    output: httpOutput,
    approve: parsed.approve,
    timeoutMs: parsed.timeoutMs,
    // The body cap is the agent's choice; the registry counts kept bytes, so the headroom is for a body that grows
    // when decoded (an invalid byte becomes a 3-byte U+FFFD) and the other fields; past it the output is cut.
    maxOutputBytes: parsed.maxBytes * 2 + 8192,
  };
  const tools: Tool[] = [];
  const others = parsed.methods.filter((method) => method !== "GET");

  if (parsed.methods.includes("GET")) {
    tools.push(
      defineTool({
        name: "http.get",
        description: `Fetches a URL with GET and returns { status, url, headers, body, truncated } (body is text, cut at ${parsed.maxBytes} bytes). Allowed URLs: ${allowedText}.`,
        input: z.object({ url }),
        idempotent: true,
        ...common,
        run: ({ url: target }, { signal }) =>
          send(
            { url: target, method: "GET", body: undefined, contentType: undefined },
            allow,
            parsed,
            signal,
          ),
      }),
    );
  }
  const [firstOther, ...moreOthers] = others;
  if (firstOther !== undefined) {
    tools.push(
      defineTool({
        name: "http.request",
        description: `Sends an HTTP request (${others.join(", ")}) and returns { status, url, headers, body, truncated }. Allowed URLs: ${allowedText}.`,
        input: z.object({
          url,
          method: z.enum([firstOther, ...moreOthers]),
          body: z.string().optional().describe("Request body (text)"),
          contentType: z
            .string()
            .max(200)
            .optional()
            .describe("Content-Type of the body, e.g. application/json"),
        }),
        ...common,
        run: ({ url: target, method, body, contentType }, { signal }) =>
          send({ url: target, method, body, contentType }, allow, parsed, signal),
      }),
    );
  }
  return tools;
}
