// Security: issue 12, findings 9 (calculator) and 10 (http allow-list), replayed against the BUILT package.
//
// Calculator: names looked up through Object.prototype (`constructor^0` and `__proto__^0` were 1,
// `constructor(1)` failed with "undefined is not iterable") and a 10-million-character expression parsed before
// its length was checked (the event loop blocked for ~10 s). Each must now be refused as invalid input, with a
// clear message, in well under a second.
//
// http: paths the WHATWG parser leaves alone but a Tomcat-style server (`..;` is `..` once the path parameter is
// stripped) or a proxy that decodes twice (`%252e%252e`) resolves outside the allowed `/ok/*`. A real server on
// 127.0.0.1 records every path that reaches it: an attack holds when the call is refused and its path never
// arrived. A legitimate path is the control: it must still reach the server, or the section proves nothing.
import { createServer } from "node:http";
import { ToolRegistry } from "../../dist/index.js";
// The built-in tools' factories are part of the built package but not of its root export.
import { createCalculatorTool, createHttpTools } from "../../dist/tools/index.js";
import { callContext, QUICK_MS, short } from "../lib.mjs";

async function calculatorAttacks() {
  const registry = new ToolRegistry().register(createCalculatorTool());
  const call = async (expression) => {
    const started = performance.now();
    const result = await registry.call("calculator", { expression }, callContext());
    return { result, ms: Math.round(performance.now() - started) };
  };
  const refused = (result, message) =>
    !result.ok && result.reason === "invalid-input" && message.test(result.error);
  const rows = [];
  for (const [expression, message] of [
    ["constructor^0", /unknown name "constructor"/],
    ["__proto__^0", /unknown name "__proto__"/],
    ["constructor(1)", /unknown function "constructor"/],
    ["__proto__(1)", /unknown function "__proto__"/],
  ]) {
    const { result } = await call(expression);
    const held = refused(result, message) && !/iterable|TypeError/.test(result.error ?? "");
    rows.push({
      attack: `calculator: ${expression}`,
      result: held ? "held" : "broken",
      detail: result.ok ? `evaluated to ${short(result.output)}` : `${result.reason}: ${result.error}`,
    });
  }
  for (const [label, expression] of [
    ["a 10-million-character expression", "1+".repeat(5_000_000)],
    ["100,000 nested parentheses", `${"(".repeat(100_000)}1${")".repeat(100_000)}`],
  ]) {
    const { result, ms } = await call(expression);
    // The long sum ends in "+": a parse would add its own complaint to the length refusal.
    const held = refused(result, /1000/) && !/ends too early|nested/.test(result.error) && ms < QUICK_MS;
    rows.push({
      attack: `calculator: ${label}`,
      result: held ? "held" : "broken",
      detail: `${result.ok ? "evaluated" : `${result.reason}: ${result.error.split("\n").at(-1)}`} in ${ms} ms`,
    });
  }
  return rows;
}

async function httpAttacks(log) {
  const seen = [];
  const server = createServer((request, response) => {
    const url = request.url ?? "/";
    seen.push(url);
    if (url === "/ok/redirect-semicolon") {
      response.writeHead(302, { location: "/ok/..;/secret" });
      response.end();
    } else if (url === "/ok/redirect-double") {
      response.writeHead(302, { location: "/ok/%252e%252e/secret" });
      response.end();
    } else if (url.startsWith("/ok/")) {
      response.writeHead(200, { "content-type": "text/plain" });
      response.end("ok");
    } else {
      // What a normalising backend would serve for /secret.
      response.writeHead(200, { "content-type": "text/plain" });
      response.end("SECRET");
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  const base = `http://127.0.0.1:${port}`;
  log(`security: http attacks against a recording server at ${base}, allow ${base}/ok/*`);
  const registry = new ToolRegistry();
  for (const tool of createHttpTools({ allow: [`${base}/ok/*`], timeoutMs: 5_000 })) registry.register(tool);
  const get = (path) => registry.call("http.get", { url: `${base}${path}` }, callContext());
  const rows = [];
  try {
    seen.length = 0;
    const control = await get("/ok/hello");
    const controlHeld = control.ok && control.output.body === "ok" && seen.join() === "/ok/hello";
    rows.push({
      attack: "http: control, the legitimate /ok/hello still reaches the server",
      result: controlHeld ? "held" : "broken",
      detail: `${control.ok ? `status ${control.output.status}` : `${control.reason}: ${control.error}`}; server saw ${short(seen)}`,
    });
    for (const path of [
      "/ok/..;/secret",
      "/ok/%252e%252e/secret",
      "/ok/..;x=1/secret",
      "/ok/..%3b/secret",
      "/ok/%25252e%25252e/secret",
      "/ok/..%252fsecret",
      "/ok/%c0%ae%c0%ae/secret",
      "/ok/%EF%BC%8E%EF%BC%8E/secret",
    ]) {
      seen.length = 0;
      const result = await get(path);
      const held = controlHeld && !result.ok && result.reason === "invalid-input" && seen.length === 0;
      rows.push({
        attack: `http: GET ${path} with allow /ok/*`,
        result: held ? "held" : "broken",
        detail: `${result.ok ? `sent, status ${result.output.status}` : `${result.reason}: ${result.error.split("\n").at(-1)}`}; server saw ${short(seen)}`,
      });
    }
    for (const start of ["/ok/redirect-semicolon", "/ok/redirect-double"]) {
      seen.length = 0;
      const result = await get(start);
      const held =
        controlHeld &&
        !result.ok &&
        result.error.includes("refused to follow a redirect") &&
        seen.join() === start;
      rows.push({
        attack: `http: redirect from ${start} to an ambiguous path`,
        result: held ? "held" : "broken",
        detail: `${result.ok ? `followed, status ${result.output.status}` : `${result.reason}: ${result.error}`}; server saw ${short(seen)}`,
      });
    }
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  return rows;
}

/** Replays findings 9 and 10; each row says whether the defence held. */
export async function attacks({ log = () => undefined } = {}) {
  log("security: calculator and http allow-list attacks (issue 12, findings 9 and 10)");
  return [...(await calculatorAttacks()), ...(await httpAttacks(log))];
}
