/**
 * A real `nats-server` with JetStream (file storage) as a child process, for the fleet tests. Each call starts one
 * server on a free 127.0.0.1 port with its own store directory; `restart()` brings it back on the same port and
 * store, so streams, consumers and KV buckets survive, as they would on a hub that restarts.
 *
 * There is no fallback: without the binary the helper throws, so fleet tests fail (never skip) on a machine that
 * lacks it. Debian: `apt-get install nats-server` (`.ci/run` installs it).
 */
/** Options of {@link startNatsServer}: at most one of `user`/`password` and `token`. */
export interface NatsServerOptions {
  /** Require this user (with `password`): `--user`. */
  user?: string;
  /** The password of `user`: `--pass`. */
  password?: string;
  /** Require this token: `--auth`. */
  token?: string;
  /** JetStream store directory; kept on dispose. Default: a fresh temp directory, removed on dispose. */
  storeDir?: string;
  /** How long to wait for the server to accept connections (ms). Default 10 000. */
  readyTimeoutMs?: number;
}

/** A running `nats-server` started by {@link startNatsServer}. */
export interface NatsServerHandle {
  /** `nats://127.0.0.1:PORT`, without credentials. */
  readonly url: string;
  readonly port: number;
  /** The JetStream store directory (`-sd`). */
  readonly storeDir: string;
  /** The server's log so far (stdout and stderr of every start), for error messages. */
  log(): string;
  /** Stops the server and starts it again on the same port and store directory. */
  restart(): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after a delay) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
  /** Stops the server and removes the store directory unless the caller passed it. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The `nats-server` binary on PATH or in `extraDirs` (default /usr/sbin and /usr/local/sbin: Debian installs it in
 * /usr/sbin, which is not on every user's PATH).
 *
 * @throws Error "nats-server is not installed: …" when it is in none of them.
 */
export function findNatsServer(extraDirs?: readonly string[]): string;

/** A port that was free a moment ago: bind 127.0.0.1:0, read the port, close. */
export function freePort(): Promise<number>;

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
export function startNatsServer(options?: NatsServerOptions): Promise<NatsServerHandle>;
