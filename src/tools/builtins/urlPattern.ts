/**
 * The http tool's allow-list. A pattern is `scheme://host[:port][/path]`: scheme, host and port must match the
 * URL exactly (the port defaults to the scheme's), and the path is a glob where `*` matches any run of
 * characters, `/` and `?` included, matched against the URL's path plus query. A pattern without a path
 * allows the whole origin (`https://api.example.com` = `https://api.example.com/*`). Hosts take no wildcards:
 * `*.example.com` would let a model reach any subdomain someone else controls.
 *
 * The allow-list must judge the path the server will act on, not the text the model wrote. The WHATWG parser
 * resolves `..`, `%2e%2e` and `\`, but servers and proxies go further: Tomcat strips `;params` from a segment
 * (`/ok/..;/secret` is `/secret` to it), a proxy that decodes before passing on turns `%252e%252e` into
 * `%2e%2e` and the server behind it into `..`, and some decoders read `%c0%ae` as a dot. So a path is refused,
 * before any request is made, when it holds anything whose meaning depends on who decodes it: an encoded `.`,
 * `/` or `\`; percent-encoding that is not UTF-8; an escape that is still an escape after one decoding (double
 * encoding, `%25xx`); and, once decoded, a `;`, `?`, `#`, `\`, control character, dot segment, or a character
 * that Unicode folding (NFKC) turns into one of those (a fullwidth `．`). What is left means the same to every server, and is matched in its RFC 3986 normal form (escapes of unreserved
 * characters decoded, `%6b` is `k`; other escapes in upper case) against patterns put in the same form. The
 * query is matched as written and never refused: servers do not route on it. A URL with credentials is refused.
 */
import { EdgecrewError, ErrorCodes } from "../../errors.js";

/**
 * Why a URL was refused: not a URL, a scheme other than http(s), credentials, a path whose meaning depends on
 * who decodes it, or outside the allow-list.
 */
export type UrlRefusalKind = "invalid" | "scheme" | "credentials" | "ambiguous-path" | "not-allowed";

/** A URL the http tool refused before sending anything (TOOL_REFUSED). */
export class UrlRefusedError extends EdgecrewError {
  readonly kind: UrlRefusalKind;
  readonly url: string;

  constructor(message: string, kind: UrlRefusalKind, url: string) {
    super(ErrorCodes.TOOL_REFUSED, message, { context: { tool: "http", url, kind } });
    this.name = "UrlRefusedError";
    this.kind = kind;
    this.url = url;
  }
}

/** A parsed allow-list entry. */
export interface UrlPattern {
  readonly raw: string;
  readonly protocol: "http:" | "https:";
  readonly hostname: string;
  /** The effective port, as a string (`"443"` for https without an explicit port). */
  readonly port: string;
  readonly path: RegExp;
}

const PATTERN = /^(https?):\/\/([^/?#]+)([/?].*)?$/i;
const ENCODED_SEPARATOR = /%(?:2e|2f|5c)/i;
const ESCAPE = /%[0-9a-f]{2}/i;
const ESCAPES = /%([0-9a-f]{2})/gi;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
// After one decoding: a path parameter, what a server could read as the end of the path, a backslash
// separator, and control characters (NUL ends a path in C).
const DECODED_AMBIGUOUS = /[;?#\\\p{Cc}]/u;

const PATH_SYNTAX = /[./\\;?#%]/g;

function countSyntax(text: string): number {
  return text.match(PATH_SYNTAX)?.length ?? 0;
}

/**
 * Why a WHATWG-serialised path could mean something else to a server that decodes or normalises it further,
 * or `undefined` when it means the same to all of them.
 */
function pathAmbiguity(path: string): string | undefined {
  if (ENCODED_SEPARATOR.test(path)) return 'an encoded ".", "/" or "\\"';
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return 'a "%" that is not valid percent-encoded UTF-8';
  }
  if (ESCAPE.test(decoded)) return "a double percent-encoding (%25 followed by two hex digits)";
  const char = DECODED_AMBIGUOUS.exec(decoded)?.[0];
  if (char !== undefined) {
    return char === ";"
      ? 'a ";" (a path parameter: Tomcat strips it, so "..;" reads as "..")'
      : `${JSON.stringify(char)} once decoded`;
  }
  if (decoded.split("/").some((segment) => segment === "." || segment === "..")) return "a dot segment";
  // A server that applies Unicode compatibility folding reads a fullwidth "．" or "／" as "." or "/".
  if (countSyntax(decoded.normalize("NFKC")) !== countSyntax(decoded)) {
    return 'a character that Unicode normalisation (NFKC) turns into ".", "/", "\\", ";", "?", "#" or "%"';
  }
  return undefined;
}

/** RFC 3986 §6.2.2 normal form of a path: escapes of unreserved characters decoded, the others upper-cased. */
function normalisePath(path: string): string {
  return path.replace(ESCAPES, (sequence, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : sequence.toUpperCase();
  });
}

function effectivePort(url: URL): string {
  if (url.port !== "") return url.port;
  return url.protocol === "https:" ? "443" : "80";
}

function invalid(raw: string, why: string): EdgecrewError {
  return new EdgecrewError(
    ErrorCodes.TOOL_INVALID,
    `http tool: the allow pattern ${JSON.stringify(raw)} ${why}`,
    {
      context: { tool: "http", pattern: raw },
    },
  );
}

/**
 * Parses one allow-list pattern; throws TOOL_INVALID when it is not `http(s)://host[:port][/path-glob]` or puts
 * a wildcard or credentials in the host part.
 *
 * @example
 * parseUrlPattern("https://api.example.com/v1/*"); // { hostname: "api.example.com", port: "443", … }
 */
export function parseUrlPattern(raw: string): UrlPattern {
  const match = PATTERN.exec(raw.trim());
  if (match === null)
    throw invalid(raw, "is not of the form https://host[:port]/path (with * wildcards in the path)");
  const [, scheme = "", authority = "", rawPath] = match;
  if (authority.includes("*"))
    throw invalid(raw, "has a wildcard in its host; hosts must be written out exactly");
  if (authority.includes("@")) throw invalid(raw, "contains credentials; they are not allowed in patterns");
  if (rawPath?.includes("#")) throw invalid(raw, "has a fragment (#…), which is never sent to a server");
  let origin: URL;
  try {
    origin = new URL(`${scheme.toLowerCase()}://${authority}/`);
  } catch {
    throw invalid(raw, "does not have a valid host");
  }
  // The path goes through the same parser and normal form as the URLs it will judge, so `/my docs/*` matches
  // `/my%20docs/…` and `/~u/*` matches `/%7Eu/…`.
  const glob =
    rawPath === undefined || rawPath === ""
      ? "/*"
      : (() => {
          // Appended to the origin, not resolved against it: "//other.host/*" is a path here, not a host.
          const parsed = new URL(`${origin.origin}${rawPath}`);
          const ambiguity = pathAmbiguity(parsed.pathname);
          if (ambiguity !== undefined) {
            throw invalid(raw, `has ${ambiguity} in its path, so no URL could match it`);
          }
          return `${normalisePath(parsed.pathname)}${parsed.search}`;
        })();
  const source = glob
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return {
    raw,
    protocol: origin.protocol as "http:" | "https:",
    hostname: origin.hostname,
    port: effectivePort(origin),
    path: new RegExp(`^${source}$`),
  };
}

type Judgement =
  | { readonly ok: true; readonly url: URL }
  | { readonly ok: false; readonly kind: UrlRefusalKind; readonly message: string };

function judge(url: string, patterns: readonly UrlPattern[]): Judgement {
  const refuse = (kind: UrlRefusalKind, message: string): Judgement => ({ ok: false, kind, message });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return refuse("invalid", `${JSON.stringify(url)} is not a valid absolute URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return refuse(
      "scheme",
      `${JSON.stringify(url)} uses ${parsed.protocol} and only http and https are allowed`,
    );
  }
  if (parsed.username !== "" || parsed.password !== "")
    return refuse("credentials", "URLs with credentials (user:password@) are not allowed");
  const ambiguity = pathAmbiguity(parsed.pathname);
  if (ambiguity !== undefined) {
    return refuse(
      "ambiguous-path",
      `${JSON.stringify(parsed.href)} has ${ambiguity} in its path, which a server may resolve differently from the allow-list, so it is not allowed`,
    );
  }
  const port = effectivePort(parsed);
  const target = `${normalisePath(parsed.pathname)}${parsed.search}`;
  const allowed = patterns.some(
    (pattern) =>
      pattern.protocol === parsed.protocol &&
      pattern.hostname === parsed.hostname &&
      pattern.port === port &&
      pattern.path.test(target),
  );
  if (allowed) return { ok: true, url: parsed };
  return refuse(
    "not-allowed",
    `${parsed.origin}${parsed.pathname} is not in the allow-list (${patterns.map((p) => p.raw).join(", ")})`,
  );
}

/**
 * Why a URL is refused by the allow-list, or `undefined` when some pattern allows it.
 *
 * @example
 * const allow = [parseUrlPattern("https://api.example.com/v1/*")];
 * urlRefusal("https://api.example.com/v1/users?page=2", allow); // undefined
 * urlRefusal("https://api.example.com.evil.net/v1/", allow); // "… is not in the allow-list …"
 * urlRefusal("https://api.example.com/v1/..;/admin", allow); // "… has a \";\" (a path parameter …) …"
 */
export function urlRefusal(url: string, patterns: readonly UrlPattern[]): string | undefined {
  const judgement = judge(url, patterns);
  return judgement.ok ? undefined : judgement.message;
}

/**
 * The parsed URL to send when some pattern allows it; throws a UrlRefusedError (TOOL_REFUSED) otherwise, with
 * `prefix` before the reason (e.g. "refused to follow a redirect: "). Sending the returned URL's `href` sends
 * exactly what was judged.
 *
 * @example
 * const target = checkUrl(model.url, allow); // throws before any request when refused
 * await fetch(target.href);
 */
export function checkUrl(url: string, patterns: readonly UrlPattern[], prefix = ""): URL {
  const judgement = judge(url, patterns);
  if (judgement.ok) return judgement.url;
  throw new UrlRefusedError(`${prefix}${judgement.message}`, judgement.kind, url);
}
