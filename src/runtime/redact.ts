/**
 * Secret redaction for everything a run writes or reports: the values of the environment variables an agent
 * names under `secrets:`, and anything shaped like a well-known API key or bearer token. Text coming back from a
 * tool or a model can carry a key it read somewhere; it must not end up in the event log, the run directory or
 * the RunResult.
 *
 * Three things make a secret harder to catch than `text.includes(secret)`, and each is handled here:
 * - it may be an object key (`{ "<secret>": 1 }`), not only a value: keys are redacted like values;
 * - it may be split over two strings that sit next to each other in one JSON value (`["<first half>", "<second
 *   half>"]`, a key and its value, two fields): the strings of a value are searched as one stream, in document
 *   order, and every piece of a secret found across a boundary is redacted;
 * - it may be cut by a cap (a tool's output limit, an error excerpt of 120 characters): a string value that ends
 *   with the first {@link MIN_FRAGMENT_LENGTH} or more characters of a secret (before an optional `…`), or starts
 *   with its last ones, has that piece redacted (keys are never cut, and keep their names).
 * A secret the model or a tool rewrites (spaced out, encoded, reversed) cannot be recognised, and is not.
 */
import type { JsonValue } from "../types.js";

/** What replaces a secret. */
export const REDACTED = "[redacted]";

/** The shortest piece of a secret redacted at the start or end of a string (where a cap or a split cut it). */
export const MIN_FRAGMENT_LENGTH = 4;

/** Shapes of common credentials: OpenAI/Anthropic-style keys, GitHub, Slack, AWS access keys, Google API keys, bearer tokens. */
const KEY_PATTERNS: readonly RegExp[] = [
  /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}/g,
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g,
  /\bxox[abprs]-[A-Za-z0-9-]{10,}/g,
  /\bAKIA[0-9A-Z]{16}\b/g,
  /\bAIza[0-9A-Za-z_-]{35}\b/g,
  /\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*/g,
];

/** Marks a cap leaves after text it cut: a secret's first characters before one of them are a cut secret. */
const CUT_MARKS: readonly string[] = ["…", "..."];

/** Replaces secrets in text and in JSON values (deeply: keys and values, across adjacent strings). */
export interface Redactor {
  text(value: string): string;
  json<T extends JsonValue>(value: T): T;
}

/**
 * A redactor for the given secret values (empty ones are ignored). It redacts whatever it is given: the rule
 * that a secret has at least 6 characters is the agent definition's (config/secretChecks.ts), checked by
 * `validate`, `loadAgent`, `defineAgent` and `createCrew`, so that a short secret is refused, never silently
 * left in clear text.
 *
 * @example
 * const redact = createRedactor([process.env.MY_TOKEN ?? ""]);
 * redact.text("token=abc123secret"); // "token=[redacted]"
 * redact.json({ "abc123secret": ["abc1", "23secret"] }); // { "[redacted]": ["[redacted]", "[redacted]"] }
 */
export function createRedactor(secretValues: readonly string[]): Redactor {
  // Longest first, so a secret that contains another is replaced whole.
  const values = [...new Set(secretValues.filter((v) => v !== ""))].sort((a, b) => b.length - a.length);
  const whole = (value: string): string => {
    let out = value;
    for (const secret of values) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    for (const pattern of KEY_PATTERNS) out = out.replace(pattern, REDACTED);
    return out;
  };
  const text = (value: string): string =>
    values.length === 0 ? whole(value) : redactCutEnds(whole(value), values);
  const json = <T extends JsonValue>(value: T): T => {
    if (typeof value === "string") return text(value) as T;
    if (values.length === 0 && (value === null || typeof value !== "object")) return value;
    const slots = collectSlots(value);
    const marks = markSplitSecrets(slots, values);
    let next = 0;
    // Keys are never cut by a cap, so only whole secrets (or split ones, marked) are redacted in them: a key
    // like `password` must not lose its name to a secret that happens to start with it.
    const slotText = (original: string, key: boolean): string => {
      const marked = applyMarks(original, marks.get(next++));
      return key ? whole(marked) : text(marked);
    };
    return rebuild(value, slotText) as T;
  };
  return { text, json };
}

/** Redacts a secret's first characters at the end of `text` (before an optional cut mark) and its last ones at the start. */
function redactCutEnds(text: string, secrets: readonly string[]): string {
  let out = text;
  let mark = "";
  for (const candidate of CUT_MARKS) {
    if (out.endsWith(candidate)) {
      mark = candidate;
      out = out.slice(0, -candidate.length);
      break;
    }
  }
  const prefix = longestPiece(secrets, (secret, n) => out.endsWith(secret.slice(0, n)));
  if (prefix > 0) out = `${out.slice(0, out.length - prefix)}${REDACTED}`;
  out += mark;
  const suffix = longestPiece(secrets, (secret, n) => out.startsWith(secret.slice(secret.length - n)));
  if (suffix > 0) out = `${REDACTED}${out.slice(suffix)}`;
  return out;
}

/** The longest proper piece (at least MIN_FRAGMENT_LENGTH characters) of any secret for which `matches` holds; 0 if none. */
function longestPiece(secrets: readonly string[], matches: (secret: string, n: number) => boolean): number {
  let best = 0;
  for (const secret of secrets) {
    for (let n = secret.length - 1; n >= MIN_FRAGMENT_LENGTH && n > best; n--) {
      if (matches(secret, n)) {
        best = n;
        break;
      }
    }
  }
  return best;
}

/** One string of a JSON value, in document order: an object key or a string value. */
interface Slot {
  readonly text: string;
  readonly key: boolean;
}

function collectSlots(value: JsonValue, slots: Slot[] = []): Slot[] {
  if (typeof value === "string") slots.push({ text: value, key: false });
  else if (Array.isArray(value)) for (const item of value) collectSlots(item, slots);
  else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      slots.push({ text: key, key: true });
      collectSlots(item as JsonValue, slots);
    }
  }
  return slots;
}

/**
 * The character ranges, per slot index, of every secret that spans two or more adjacent slots. Two streams are
 * searched: every string in order (a secret split between a key and its value), and the string values alone
 * (a secret split between two fields or two list items, with keys between them).
 */
function markSplitSecrets(
  slots: readonly Slot[],
  secrets: readonly string[],
): Map<number, [number, number][]> {
  const marks = new Map<number, [number, number][]>();
  const streams = [slots.map((_, i) => i), slots.flatMap((slot, i) => (slot.key ? [] : [i]))];
  for (const stream of streams) {
    if (stream.length < 2) continue;
    const starts: number[] = [];
    let joined = "";
    for (const index of stream) {
      starts.push(joined.length);
      joined += slots[index]?.text ?? "";
    }
    for (const secret of secrets) {
      for (let at = joined.indexOf(secret); at !== -1; at = joined.indexOf(secret, at + secret.length)) {
        const end = at + secret.length;
        const covered: [number, number, number][] = [];
        stream.forEach((index, k) => {
          const from = starts[k] ?? 0;
          const to = from + (slots[index]?.text.length ?? 0);
          if (from < end && to > at && to > from)
            covered.push([index, Math.max(at, from) - from, Math.min(end, to) - from]);
        });
        // Within one string, text() finds it; only a secret across a boundary needs marks.
        if (covered.length < 2) continue;
        for (const [index, from, to] of covered) {
          const list = marks.get(index) ?? [];
          list.push([from, to]);
          marks.set(index, list);
        }
      }
    }
  }
  return marks;
}

/** Replaces each maximal run of marked characters of `text` by REDACTED. */
function applyMarks(text: string, ranges: readonly [number, number][] | undefined): string {
  if (ranges === undefined || ranges.length === 0) return text;
  const marked = new Uint8Array(text.length);
  for (const [from, to] of ranges) marked.fill(1, from, to);
  let out = "";
  for (let i = 0; i < text.length; ) {
    if (marked[i] === 1) {
      while (i < text.length && marked[i] === 1) i++;
      out += REDACTED;
    } else {
      out += text[i];
      i++;
    }
  }
  return out;
}

/** Rebuilds `value` with every slot (key or string) passed through `slot`, in the order collectSlots saw them. */
function rebuild(value: JsonValue, slot: (text: string, key: boolean) => string): JsonValue {
  if (typeof value === "string") return slot(value, false);
  if (Array.isArray(value)) return value.map((item) => rebuild(item, slot));
  if (value !== null && typeof value === "object") {
    const entries: [string, JsonValue][] = [];
    const taken = new Set<string>();
    for (const [key, item] of Object.entries(value)) {
      const base = slot(key, true);
      let name = base;
      // Two keys that redact alike must both survive: the second gets a number.
      for (let n = 2; taken.has(name); n++) name = `${base}#${n}`;
      taken.add(name);
      entries.push([name, rebuild(item as JsonValue, slot)]);
    }
    return Object.fromEntries(entries);
  }
  return value;
}

/** The values of the named environment variables that are set. */
export function secretValuesFrom(
  names: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): string[] {
  return names.flatMap((name) => {
    const value = env[name];
    return value === undefined || value === "" ? [] : [value];
  });
}
