import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ErrorCodes } from "../../../src/errors.js";
import { createHttpTools } from "../../../src/tools/builtins/http.js";
import type { HttpToolMethod } from "../../../src/tools/builtins/options.js";
import { checkUrl, parseUrlPattern, urlRefusal } from "../../../src/tools/builtins/urlPattern.js";
import { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import { callContext, expectFailure, expectOk } from "./helpers.js";

interface Seen {
  readonly method: string;
  readonly url: string;
}

let main: Server;
let other: Server;
let port: number;
let otherPort: number;
let seen: Seen[] = [];
let otherSeen: Seen[] = [];

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function readRequestBody(request: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of request) body += String(chunk);
  return body;
}

async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = request.url ?? "/";
  seen.push({ method: request.method ?? "", url });
  if (url === "/api/hello") {
    response.writeHead(200, {
      "content-type": "text/plain",
      "set-cookie": "session=s3cret",
      "x-internal": "1",
    });
    response.end("hello");
  } else if (url === "/api/big") {
    response.writeHead(200, { "content-type": "text/plain" });
    // 1 MiB in 16 KiB chunks, written as the client reads.
    const chunk = "z".repeat(16 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent < 64) {
        sent++;
        if (!response.write(chunk)) return void response.once("drain", pump);
      }
      response.end();
    };
    response.on("error", () => undefined);
    pump();
  } else if (url === "/api/slow") {
    response.writeHead(200, { "content-type": "text/plain" });
    response.write("partial");
    // never ends; the server closes it in afterAll
  } else if (url === "/api/echo") {
    const body = await readRequestBody(request);
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({ method: request.method, body, type: request.headers["content-type"] ?? null }),
    );
  } else if (url === "/api/redirect-in") {
    response.writeHead(302, { location: "/api/hello" });
    response.end();
  } else if (url === "/api/redirect-path") {
    response.writeHead(302, { location: "/private/secret" });
    response.end();
  } else if (url === "/api/redirect-port") {
    response.writeHead(307, { location: `http://127.0.0.1:${otherPort}/api/hello` });
    response.end();
  } else if (url === "/api/see-other") {
    await readRequestBody(request);
    response.writeHead(303, { location: "/api/echo" });
    response.end();
  } else if (url === "/ok/redirect-semicolon") {
    response.writeHead(302, { location: "/ok/..;/secret" });
    response.end();
  } else if (url === "/ok/redirect-double") {
    response.writeHead(302, { location: "/ok/%252e%252e/secret" });
    response.end();
  } else if (url.startsWith("/ok/")) {
    response.writeHead(200, { "content-type": "text/plain" });
    response.end("ok");
  } else if (url === "/api/loop") {
    response.writeHead(302, { location: "/api/loop" });
    response.end();
  } else {
    response.writeHead(404);
    response.end("not found");
  }
}

beforeAll(async () => {
  main = createServer((request, response) => void route(request, response));
  other = createServer((request, response) => {
    otherSeen.push({ method: request.method ?? "", url: request.url ?? "" });
    response.end("other");
  });
  port = await listen(main);
  otherPort = await listen(other);
});

afterAll(async () => {
  await close(main);
  await close(other);
});

beforeEach(() => {
  seen = [];
  otherSeen = [];
});

function registry(options: { methods?: HttpToolMethod[]; timeoutMs?: number; maxBytes?: number } = {}) {
  const reg = new ToolRegistry();
  for (const tool of createHttpTools({ allow: [`http://127.0.0.1:${port}/api/*`], ...options }))
    reg.register(tool);
  return reg;
}

const api = (path: string) => `http://127.0.0.1:${port}${path}`;

describe("http.get", () => {
  it("fetches an allowed URL and returns status, safe headers and the body", async () => {
    const output = expectOk(
      await registry().call("http.get", { url: api("/api/hello") }, callContext().context),
    );
    expect(output).toMatchObject({ status: 200, url: api("/api/hello"), body: "hello", truncated: false });
    const headers = (output as { headers: Record<string, string> }).headers;
    expect(headers["content-type"]).toBe("text/plain");
    expect(headers).not.toHaveProperty("set-cookie");
    expect(headers).not.toHaveProperty("x-internal");
    expect(seen).toEqual([{ method: "GET", url: "/api/hello" }]);
  });

  it("returns a non-2xx status as data", async () => {
    expect(
      expectOk(await registry().call("http.get", { url: api("/api/missing") }, callContext().context)),
    ).toMatchObject({ status: 404, body: "not found" });
  });

  it.each([
    ["another host", () => `http://localhost:${port}/api/hello`],
    ["another port", () => `http://127.0.0.1:${otherPort}/api/hello`],
    ["another scheme", () => `https://127.0.0.1:${port}/api/hello`],
    ["a path outside the pattern", () => api("/private/secret")],
    ["a dot-segment escape", () => api("/api/../private/secret")],
    ["a percent-encoded dot-segment escape", () => api("/api/%2e%2e/private/secret")],
    ["an encoded slash", () => api("/api/..%2fprivate/secret")],
    ["credentials in the URL", () => `http://user:pw@127.0.0.1:${port}/api/hello`],
    ["a host that only starts like the allowed one", () => `http://127.0.0.1.nip.io:${port}/api/hello`],
    ["a file URL", () => "file:///etc/passwd"],
    ["a relative URL", () => "/api/hello"],
  ])("refuses %s before any request is made", async (_label, url) => {
    const result = await registry().call("http.get", { url: url() }, callContext().context);
    expectFailure(result, "invalid-input");
    expect(seen).toEqual([]);
    expect(otherSeen).toEqual([]);
  });

  it("follows a redirect that stays in the allow-list", async () => {
    const output = expectOk(
      await registry().call("http.get", { url: api("/api/redirect-in") }, callContext().context),
    );
    expect(output).toMatchObject({ status: 200, url: api("/api/hello"), body: "hello" });
    expect(seen.map((request) => request.url)).toEqual(["/api/redirect-in", "/api/hello"]);
  });

  it("refuses a redirect out of the allow-list without following it", async () => {
    const toPath = expectFailure(
      await registry().call("http.get", { url: api("/api/redirect-path") }, callContext().context),
      "failed",
    );
    expect(toPath).toContain("refused to follow a redirect");
    const toPort = await registry().call(
      "http.get",
      { url: api("/api/redirect-port") },
      callContext().context,
    );
    expectFailure(toPort, "failed");
    expect(seen.map((request) => request.url)).toEqual(["/api/redirect-path", "/api/redirect-port"]);
    expect(otherSeen).toEqual([]);
  });

  it("stops after too many redirects", async () => {
    const error = expectFailure(
      await registry().call("http.get", { url: api("/api/loop") }, callContext().context),
      "failed",
    );
    expect(error).toContain("redirects");
    expect(seen.length).toBeLessThanOrEqual(6);
  });

  it("times out a response that never finishes", async () => {
    const started = Date.now();
    const error = expectFailure(
      await registry({ timeoutMs: 200 }).call("http.get", { url: api("/api/slow") }, callContext().context),
      "timeout",
    );
    expect(error).toContain("200 ms");
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("cuts the body at maxBytes and says so", async () => {
    const output = expectOk(
      await registry({ maxBytes: 1000 }).call("http.get", { url: api("/api/big") }, callContext().context),
    ) as { body: string; truncated: boolean };
    expect(output.truncated).toBe(true);
    expect(output.body).toBe("z".repeat(1000));
  });
});

describe("http.request", () => {
  it("does not exist unless a method other than GET is allowed", async () => {
    const reg = registry();
    expect(reg.list().map((spec) => spec.name)).toEqual(["http.get"]);
    const result = await reg.call(
      "http.request",
      { url: api("/api/echo"), method: "POST" },
      callContext().context,
    );
    expectFailure(result, "not-granted");
    expect(seen).toEqual([]);
  });

  it("sends an allowed method with a body, and refuses the others", async () => {
    const reg = registry({ methods: ["GET", "POST"] });
    const output = expectOk(
      await reg.call(
        "http.request",
        { url: api("/api/echo"), method: "POST", body: '{"a":1}', contentType: "application/json" },
        callContext().context,
      ),
    ) as { status: number; body: string };
    expect(output.status).toBe(200);
    expect(JSON.parse(output.body)).toEqual({ method: "POST", body: '{"a":1}', type: "application/json" });
    expectFailure(
      await reg.call("http.request", { url: api("/api/echo"), method: "DELETE" }, callContext().context),
      "invalid-input",
    );
    expect(seen).toEqual([{ method: "POST", url: "/api/echo" }]);
  });

  it("turns a POST answered with 303 into a GET without the body", async () => {
    const reg = registry({ methods: ["POST"] });
    expect(reg.list().map((spec) => spec.name)).toEqual(["http.request"]);
    const output = expectOk(
      await reg.call(
        "http.request",
        { url: api("/api/see-other"), method: "POST", body: "x" },
        callContext().context,
      ),
    ) as { body: string };
    expect(JSON.parse(output.body)).toEqual({ method: "GET", body: "", type: null });
  });
});

describe("URL patterns", () => {
  it("matches scheme, host and port exactly and the path as a glob", () => {
    const allow = [parseUrlPattern("https://api.example.com/v1/*"), parseUrlPattern("http://localhost:8080")];
    expect(urlRefusal("https://api.example.com/v1/users?page=2", allow)).toBeUndefined();
    expect(urlRefusal("https://API.example.com:443/v1/x", allow)).toBeUndefined();
    expect(urlRefusal("http://localhost:8080/anything/at/all", allow)).toBeUndefined();
    expect(urlRefusal("https://api.example.com/v2/users", allow)).toContain("not in the allow-list");
    expect(urlRefusal("https://api.example.com:8443/v1/x", allow)).toContain("not in the allow-list");
    expect(urlRefusal("http://api.example.com/v1/x", allow)).toContain("not in the allow-list");
    expect(urlRefusal("https://api.example.com.evil.net/v1/x", allow)).toContain("not in the allow-list");
    expect(urlRefusal("https://api.example.com@evil.net/v1/x", allow)).toContain("credentials");
    expect(urlRefusal("http://localhost/x", allow)).toContain("not in the allow-list");
  });

  it("treats regex characters in patterns literally", () => {
    const allow = [parseUrlPattern("https://example.com/a.b/(x)?q=1")];
    expect(urlRefusal("https://example.com/a.b/(x)?q=1", allow)).toBeUndefined();
    expect(urlRefusal("https://example.com/aXb/(x)?q=1", allow)).toContain("not in the allow-list");
  });

  it.each(["ftp://example.com/*", "https://*.example.com/*", "https://user@example.com/", "example.com/*"])(
    "rejects the malformed pattern %s",
    (pattern) => {
      expect(() => parseUrlPattern(pattern)).toThrow(
        expect.objectContaining({ code: ErrorCodes.TOOL_INVALID }),
      );
    },
  );
});

// Security issue 12, finding 10: paths that the WHATWG parser leaves alone but a Tomcat-style server (`..;` is
// `..` once the path parameter is stripped) or a proxy that decodes twice (`%252e` → `%2e` → `.`) resolves
// outside the allowed prefix. They must be refused before any request is made; legitimate paths still go through.
describe("http allow-list against normalising backends (issue 12, finding 10)", () => {
  const ok = (path: string) => `http://127.0.0.1:${port}${path}`;
  const okRegistry = () => {
    const reg = new ToolRegistry();
    for (const tool of createHttpTools({ allow: [`http://127.0.0.1:${port}/ok/*`] })) reg.register(tool);
    return reg;
  };

  it.each([
    ["the finding: a Tomcat path parameter on a dot segment", "/ok/..;/secret"],
    ["the finding: a double-encoded dot segment", "/ok/%252e%252e/secret"],
    ["a single-dot segment with a parameter", "/ok/.;/secret"],
    ["a dot segment with a named parameter", "/ok/..;x=1/secret"],
    ["a parameter on an ordinary segment", "/ok/x;jsessionid=1/secret"],
    ["an encoded semicolon", "/ok/..%3b/secret"],
    ["an encoded dot segment with a parameter", "/ok/%2e%2e;/secret"],
    ["a double-encoded slash", "/ok/..%252fsecret"],
    ["a double-encoded backslash", "/ok/..%255csecret"],
    ["a triple-encoded dot segment", "/ok/%25252e%25252e/secret"],
    ["a double-encoded semicolon", "/ok/..%253b/secret"],
    ["an encoded dot segment and slash", "/ok/%2e%2e%2fsecret"],
    ["an encoded backslash", "/ok/..%5csecret"],
    ["an overlong UTF-8 dot (invalid percent-encoding)", "/ok/%c0%ae%c0%ae/secret"],
    ["an encoded NUL", "/ok/secret%00.txt"],
    ["an encoded question mark", "/ok/secret%3f/x"],
    ["fullwidth dots (NFKC folds them into ..)", "/ok/%EF%BC%8E%EF%BC%8E/secret"],
    ["a stray percent sign", "/ok/100%/secret"],
  ])("refuses %s (%s) without sending it", async (_label, path) => {
    const error = expectFailure(
      await okRegistry().call("http.get", { url: ok(path) }, callContext().context),
      "invalid-input",
    );
    expect(error).toContain("path");
    expect(seen).toEqual([]);
    const refusal = urlRefusal(ok(path), [parseUrlPattern(`http://127.0.0.1:${port}/ok/*`)]);
    expect(refusal).toBeDefined();
    expect(refusal).not.toContain("not in the allow-list");
  });

  it("still sends legitimate paths, query strings included, exactly as written", async () => {
    const paths = [
      "/ok/hello",
      "/ok/a.b/c..d/.well-known/...",
      "/ok/100%25",
      "/ok/caf%C3%A9/a%20b/%EF%AC%81le",
      "/ok/x?q=..;/&r=%252e%252e&s=%2f",
    ];
    for (const path of paths) {
      const output = expectOk(await okRegistry().call("http.get", { url: ok(path) }, callContext().context));
      expect(output).toMatchObject({ status: 200, body: "ok" });
    }
    expect(seen.map((request) => request.url)).toEqual(paths);
  });

  it("matches on the normalised path: percent-encoded unreserved characters are the characters", async () => {
    // A server reads /o%6b/ as /ok/, so the pattern judges it as /ok/; the request goes out as written.
    const allowed = expectOk(
      await okRegistry().call("http.get", { url: ok("/o%6b/hello") }, callContext().context),
    );
    expect(allowed).toMatchObject({ status: 404 });
    expectFailure(
      await okRegistry().call("http.get", { url: ok("/o%6B%2d/hello") }, callContext().context),
      "invalid-input",
    );
    expect(seen.map((request) => request.url)).toEqual(["/o%6b/hello"]);
  });

  it.each([
    ["/ok/redirect-semicolon", "/ok/..;/secret"],
    ["/ok/redirect-double", "/ok/%252e%252e/secret"],
  ])("refuses a redirect from %s to %s without following it", async (start, target) => {
    const error = expectFailure(
      await okRegistry().call("http.get", { url: ok(start) }, callContext().context),
      "failed",
    );
    expect(error).toContain("refused to follow a redirect");
    expect(error).toContain(target);
    expect(seen.map((request) => request.url)).toEqual([start]);
  });

  it("throws a typed TOOL_REFUSED error from checkUrl, and returns the URL that is sent", () => {
    const allow = [parseUrlPattern("https://example.com/ok/*")];
    expect(checkUrl("https://example.com/ok/a/../b?c=..;", allow).href).toBe(
      "https://example.com/ok/b?c=..;",
    );
    for (const [url, kind] of [
      ["https://example.com/ok/..;/secret", "ambiguous-path"],
      ["https://example.com/ok/%252e%252e/secret", "ambiguous-path"],
      ["https://example.com/secret", "not-allowed"],
      ["ftp://example.com/ok/x", "scheme"],
      ["https://u:p@example.com/ok/x", "credentials"],
      ["ok/x", "invalid"],
    ] as const) {
      expect(() => checkUrl(url, allow)).toThrow(
        expect.objectContaining({ name: "UrlRefusedError", code: ErrorCodes.TOOL_REFUSED, kind, url }),
      );
    }
  });

  it("normalises patterns the same way, and refuses a pattern no URL could match", () => {
    const allow = [
      parseUrlPattern("https://example.com/my docs/*"),
      parseUrlPattern("https://example.com/~u/*"),
    ];
    expect(urlRefusal("https://example.com/my%20docs/a", allow)).toBeUndefined();
    expect(urlRefusal("https://example.com/my docs/a", allow)).toBeUndefined();
    expect(urlRefusal("https://example.com/%7Eu/a", allow)).toBeUndefined();
    // A path that starts with "//" stays a path of the pattern's host: it does not widen to the whole origin.
    const doubleSlash = [parseUrlPattern("https://example.com//other.net/*")];
    expect(urlRefusal("https://example.com//other.net/a", doubleSlash)).toBeUndefined();
    expect(urlRefusal("https://example.com/a", doubleSlash)).toContain("not in the allow-list");
    for (const pattern of [
      "https://example.com/ok;x/*",
      "https://example.com/ok/%252e/*",
      "https://example.com/ok/*#frag",
    ]) {
      expect(() => parseUrlPattern(pattern)).toThrow(
        expect.objectContaining({ code: ErrorCodes.TOOL_INVALID }),
      );
    }
  });
});
