// A real `nats-server` with JetStream (file storage) as a child process, for the fleet tests and the fleet chaos
// and bench sections (plain ESM, so chaos/ and bench/ can import it; types in natsServer.d.mts). Each call starts
// one server on a free 127.0.0.1 port with its own store directory; `restart()` brings it back on the same port
// and store, so streams, consumers and KV buckets survive, as they would on a hub that restarts.
//
// There is no fallback: without the binary it throws, so fleet tests fail (never skip) on a machine that lacks
// it. Debian: `apt-get install nats-server` (`.ci/run` installs it).
import { spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

const NOT_INSTALLED =
  "nats-server is not installed: the fleet tests need the real server (Debian: apt-get install nats-server; .ci/run installs it)";

/**
 * The `nats-server` binary on PATH or in `extraDirs` (default /usr/sbin and /usr/local/sbin: Debian installs it in
 * /usr/sbin, which is not on every user's PATH).
 *
 * @throws Error "nats-server is not installed: …" when it is in none of them.
 */
export function findNatsServer(extraDirs = ["/usr/sbin", "/usr/local/sbin"]) {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const candidate = join(dir, "nats-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(NOT_INSTALLED);
}

/** A port that was free a moment ago: bind 127.0.0.1:0, read the port, close. */
export async function freePort() {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("could not read a free port"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts `nats-server -js -sd <storeDir> -a 127.0.0.1 -p <free port>` and resolves once it accepts TCP connections
 * and has logged "Server is ready".
 *
 * @throws Error "nats-server is not installed: …" when the binary is missing; an Error with the server's log when it
 * exits or does not get ready within `readyTimeoutMs`.
 * @example
 * await using nats = await startNatsServer();
 * const nc = await connect({ servers: nats.url });
 */
export async function startNatsServer(options = {}) {
  const binary = findNatsServer();
  if (options.token !== undefined && (options.user !== undefined || options.password !== undefined)) {
    throw new Error("startNatsServer: pass either token or user/password, not both");
  }
  if ((options.user === undefined) !== (options.password === undefined)) {
    throw new Error("startNatsServer: user and password go together");
  }
  const ownsStore = options.storeDir === undefined;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), "edgecrew-nats-"));
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const port = await freePort();
  const args = ["-js", "-sd", storeDir, "-a", "127.0.0.1", "-p", String(port)];
  if (options.user !== undefined && options.password !== undefined) {
    args.push("--user", options.user, "--pass", options.password);
  }
  if (options.token !== undefined) args.push("--auth", options.token);

  let log = "";
  /** @type {import("node:child_process").ChildProcess | undefined} */
  let child;
  let exited = Promise.resolve();

  const start = async () => {
    const proc = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    let ready = false;
    let exitInfo;
    const onData = (chunk) => {
      log += chunk.toString("utf8");
      if (log.includes("Server is ready")) ready = true;
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    exited = new Promise((resolve) => {
      proc.once("exit", (code, signal) => {
        exitInfo = `exited with ${signal ?? `code ${code}`}`;
        resolve();
      });
      proc.once("error", (error) => {
        exitInfo = `failed to start: ${error.message}`;
        resolve();
      });
    });
    const deadline = Date.now() + readyTimeoutMs;
    // Ready = the log line (JetStream is up) and the port accepts connections.
    while (!(ready && (await canConnect(port)))) {
      if (exitInfo !== undefined) {
        child = undefined;
        throw new Error(`nats-server ${exitInfo} before it was ready (${args.join(" ")}):\n${log}`);
      }
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`nats-server was not ready within ${readyTimeoutMs} ms (${args.join(" ")}):\n${log}`);
      }
      await sleep(50);
    }
  };

  const stop = async () => {
    const proc = child;
    if (proc === undefined) return;
    child = undefined;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const killTimer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(killTimer);
    }
  };

  try {
    await start();
  } catch (error) {
    if (ownsStore) rmSync(storeDir, { recursive: true, force: true });
    throw error;
  }

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    log: () => log,
    restart: async () => {
      await stop();
      log += "\n--- restart ---\n";
      await start();
    },
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
      if (ownsStore) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
