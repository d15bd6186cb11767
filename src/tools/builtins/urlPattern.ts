/**
 * The http tool's allow-list. A pattern is `scheme://host[:port][/path]`: scheme, host and port must match the
 * URL exactly (the port defaults to the scheme's), and the path is a glob where `*` matches any run of
 * characters, `/` and `?` included, matched against the URL's path plus query. A pattern without a path
 * allows the whole origin (`https://api.example.com` = `https://api.example.com/*`). Hosts take no wildcards:
 * `*.example.com` would let a model reach any subdomain someone else controls.
 *
 * URLs are judged after WHATWG parsing, which already resolves `..` and `%2e%2e` segments; on top of that, a
 * URL with credentials, or with an encoded dot, slash or backslash in its path (which a server might decode
 * into a traversal after the check) is refused.
 */
import { EdgecrewError, ErrorCodes } from "../../errors.js";

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
  let origin: URL;
  try {
    origin = new URL(`${scheme.toLowerCase()}://${authority}/`);
  } catch {
    throw invalid(raw, "does not have a valid host");
  }
  const glob = rawPath === undefined || rawPath === "" ? "/*" : rawPath;
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

/**
 * Why a URL is refused by the allow-list, or `undefined` when some pattern allows it.
 *
 * @example
 * const allow = [parseUrlPattern("https://api.example.com/v1/*")];
 * urlRefusal("https://api.example.com/v1/users?page=2", allow); // undefined
 * urlRefusal("https://api.example.com.evil.net/v1/", allow); // "… is not in the allow-list …"
 */
export function urlRefusal(url: string, patterns: readonly UrlPattern[]): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${JSON.stringify(url)} is not a valid absolute URL`;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return `${JSON.stringify(url)} uses ${parsed.protocol} and only http and https are allowed`;
  }
  if (parsed.username !== "" || parsed.password !== "")
    return "URLs with credentials (user:password@) are not allowed";
  if (ENCODED_SEPARATOR.test(parsed.pathname)) {
    return `${JSON.stringify(url)} has an encoded ".", "/" or "\\" in its path, which is not allowed`;
  }
  const port = effectivePort(parsed);
  const target = `${parsed.pathname}${parsed.search}`;
  const allowed = patterns.some(
    (pattern) =>
      pattern.protocol === parsed.protocol &&
      pattern.hostname === parsed.hostname &&
      pattern.port === port &&
      pattern.path.test(target),
  );
  if (allowed) return undefined;
  return `${parsed.origin}${parsed.pathname} is not in the allow-list (${patterns.map((p) => p.raw).join(", ")})`;
}
