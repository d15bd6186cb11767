/**
 * `edgecrew mcp --http`: the crew's MCP server over streamable HTTP, one SDK server per client session, all on
 * the one crew (see server.ts).
 */
import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import type { Crew } from "../crew.js";
import { type CrewMcpServerOptions, type CrewMcpServing, createCrewMcpServer } from "./server.js";

/** Where {@link serveHttp} listens. */
export interface HttpAddress {
  /** Default 127.0.0.1: only this machine can call. */
  readonly host?: string;
  /** 0 picks a free port (the URL says which). */
  readonly port: number;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

function sendJsonRpcError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: ErrorCode.InvalidRequest, message }, id: null }));
}

/**
 * Serves `crew` over MCP's streamable HTTP transport at `http://host:port/mcp`, one session per client
 * (`mcp-session-id`), each with its own SDK server on the shared crew. On a loopback host the Host header is
 * checked (DNS-rebinding protection). Rejects when the port cannot be bound.
 */
export async function serveHttp(
  crew: Crew,
  address: HttpAddress,
  options: CrewMcpServerOptions = {},
): Promise<CrewMcpServing> {
  const host = address.host ?? "127.0.0.1";
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: Server }>();
  let allowedHosts: string[] | undefined;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path !== "/mcp") {
      sendJsonRpcError(res, 404, `not found: the MCP endpoint is /mcp`);
      return;
    }
    const header = req.headers["mcp-session-id"];
    const sessionId = Array.isArray(header) ? header[0] : header;
    const known = sessionId === undefined ? undefined : sessions.get(sessionId);
    if (known !== undefined) {
      await known.transport.handleRequest(req, res);
      return;
    }
    if (sessionId !== undefined) {
      sendJsonRpcError(res, 404, `unknown or closed session ${sessionId}`);
      return;
    }
    if (req.method !== "POST") {
      sendJsonRpcError(res, 400, "no session: start one with an initialize request (POST)");
      return;
    }
    const server = createCrewMcpServer(crew, options);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server });
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
      ...(allowedHosts === undefined ? {} : { enableDnsRebindingProtection: true, allowedHosts }),
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res);
    // Anything but an initialize request was refused by the transport: nothing to keep.
    if (transport.sessionId === undefined) await server.close();
  };
  const http = createHttpServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.log?.(`http: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) sendJsonRpcError(res, 500, "internal error");
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(address.port, host, () => {
      http.off("error", reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  if (LOOPBACK.has(host)) {
    allowedHosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
  }
  const shownHost = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  const ended = new Promise<void>((resolve) => http.once("close", () => resolve()));
  return {
    url: `http://${shownHost}:${port}/mcp`,
    ended,
    close() {
      closing ??= (async () => {
        await Promise.all([...sessions.values()].map(({ server }) => server.close().catch(() => {})));
        sessions.clear();
        const closed = new Promise<void>((resolve) => http.close(() => resolve()));
        http.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}
