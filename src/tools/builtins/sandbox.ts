/**
 * The shell tool's sandbox: each call runs in bubblewrap (`bwrap`) in a file system built from nothing. It holds
 * the allowed programs (in /usr/bin, and nothing else there), the shared libraries they link (listed by `ldd`),
 * a few read-only data files (locales, time zones, the dynamic loader's cache, a minimal /etc/passwd), a private
 * /tmp, /proc of the sandbox's own PID namespace, a minimal /dev, the paths the agent marks `readable`, and the
 * tool's `root`: the only writable host directory, and the working directory. Namespaces: PID (every process of a
 * call dies with it: the program is the namespace's PID 1, and when it exits the kernel kills whatever is left), network
 * (no interfaces but loopback unless `network: true`), IPC, UTS; every capability is dropped; a new session (no
 * terminal to push input into). A shell the allow-list does not name is not there to run, whatever a program's
 * options ask for.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  accessSync,
  closeSync,
  constants,
  lstatSync,
  openSync,
  readlinkSync,
  readSync,
  realpathSync,
  statSync,
} from "node:fs";
import { basename, delimiter, dirname, isAbsolute, join, posix } from "node:path";
import { EdgecrewError, ErrorCodes } from "../../errors.js";

/** Where bubblewrap stands on this machine: usable (with its path), or why not. */
export type SandboxStatus =
  | { readonly ok: true; readonly bwrap: string }
  | { readonly ok: false; readonly problem: string };

/** The PATH of programs inside the sandbox: the allowed programs are bound here. */
export const SANDBOX_BIN = "/usr/bin";
/** Size of the private /tmp of one call, in bytes. */
export const SANDBOX_TMP_BYTES = 64 * 1024 * 1024;

// `--as-pid-1`: the program is the PID namespace's init, so the moment it exits the kernel kills every process
// left in the namespace (background children, `setsid` ones, daemons). bwrap's own init would instead wait for
// all of them. `--die-with-parent`: if bwrap is killed (a timeout, a cancelled run, edgecrew dying), so is the
// program, and with it the namespace.
const NAMESPACES = [
  "--unshare-pid",
  "--as-pid-1",
  "--unshare-ipc",
  "--unshare-uts",
  "--unshare-cgroup-try",
  "--die-with-parent",
  "--new-session",
  "--cap-drop",
  "ALL",
];

/** The first executable regular file called `name` on a PATH (absolute directories only). */
export function findOnPath(name: string, pathEnv: string | undefined): string | undefined {
  for (const directory of (pathEnv ?? "").split(delimiter)) {
    if (directory === "" || !isAbsolute(directory)) continue;
    const candidate = join(directory, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const INSTALL_HINT =
  "install it (Debian, Ubuntu, Jetson: apt-get install bubblewrap), or set `sandbox: none` on the shell tool to run its programs unconfined, with every right of the edgecrew process (see the README's Security section)";
const probes = new Map<string, SandboxStatus>();

/**
 * Whether bubblewrap is installed and can create the sandbox's namespaces here (it is found on `env.PATH`, then
 * run once with the sandbox's flags; the answer is cached per binary). On a kernel or an AppArmor profile that
 * forbids unprivileged user namespaces, bwrap exists but fails: that is reported with bwrap's own message.
 *
 * @example
 * const status = bubblewrapStatus();
 * if (!status.ok) console.error(status.problem);
 */
export function bubblewrapStatus(env: NodeJS.ProcessEnv = process.env): SandboxStatus {
  if (process.platform !== "linux") {
    return {
      ok: false,
      problem: `the shell tool's sandbox is bubblewrap, which needs Linux (this is ${process.platform}): set \`sandbox: none\` on the shell tool to run its programs unconfined (see the README's Security section)`,
    };
  }
  const bwrap = findOnPath("bwrap", env.PATH);
  if (bwrap === undefined) {
    return {
      ok: false,
      problem: `the shell tool runs its programs in a bubblewrap sandbox, and bubblewrap (bwrap) is not installed on this machine: ${INSTALL_HINT}`,
    };
  }
  const cached = probes.get(bwrap);
  if (cached !== undefined) return cached;
  const probe = spawnSync(
    bwrap,
    [...NAMESPACES, "--unshare-net", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "true"],
    { encoding: "utf8", timeout: 10_000, env: { PATH: env.PATH ?? "/usr/bin:/bin" } },
  );
  const status: SandboxStatus =
    probe.status === 0
      ? { ok: true, bwrap }
      : {
          ok: false,
          problem: `bubblewrap (${bwrap}) is installed but cannot create the shell tool's sandbox here (${(probe.stderr ?? "").trim() || probe.error?.message || `exit ${probe.status ?? probe.signal}`}); this usually means user namespaces are disabled (sysctl kernel.unprivileged_userns_clone, or an AppArmor profile): allow them for bwrap, or ${INSTALL_HINT.replace(/^install it \([^)]*\), or /, "")}`,
        };
  probes.set(bwrap, status);
  return status;
}

/** Throws SANDBOX_UNAVAILABLE when bubblewrap cannot be used here; returns its path otherwise. */
export function requireBubblewrap(env: NodeJS.ProcessEnv = process.env): string {
  const status = bubblewrapStatus(env);
  if (status.ok) return status.bwrap;
  throw new EdgecrewError(ErrorCodes.SANDBOX_UNAVAILABLE, status.problem, { context: { tool: "shell" } });
}

// Shared libraries of a program, by its real path (`ldd` output does not change while the file does not).
const librariesCache = new Map<string, readonly string[]>();

/** The shared libraries a dynamically linked program loads (the dynamic loader included), from `ldd`. */
function librariesOf(program: string): readonly string[] {
  const cached = librariesCache.get(program);
  if (cached !== undefined) return cached;
  let output: string;
  try {
    output = execFileSync("ldd", [program], {
      encoding: "utf8",
      timeout: 10_000,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" },
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    // A static program (or a script): nothing to load.
    if (/not a dynamic executable|statically linked/.test(`${stdout}${stderr}`)) {
      librariesCache.set(program, []);
      return [];
    }
    throw new Error(
      `cannot list the shared libraries of ${program} for the sandbox (ldd: ${(stderr || (error as Error).message).trim()})`,
    );
  }
  const libraries: string[] = [];
  for (const line of output.split("\n")) {
    const match = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (match?.[1] !== undefined) libraries.push(match[1]);
    else if (/=>\s*not found/.test(line)) {
      throw new Error(`${program} needs a shared library that is not installed: ${line.trim()}`);
    }
  }
  librariesCache.set(program, libraries);
  return libraries;
}

/** The interpreter of a script (`#!/bin/sh` → `/bin/sh`), or undefined for anything else. */
function interpreterOf(program: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(program, "r");
    const buffer = Buffer.alloc(256);
    const head = buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0)).toString("latin1");
    if (!head.startsWith("#!")) return undefined;
    return head.slice(2).split("\n")[0]?.trim().split(/\s+/)[0];
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// Read-only data every program may need: the loader's cache and configuration, locales, time zones, host
// names and services. Never the machine's passwd, shadow, keys, or anything under home directories.
const ETC_FILES = [
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "nsswitch.conf",
  "localtime",
  "timezone",
  "host.conf",
  "gai.conf",
  "protocols",
  "services",
  "mime.types",
  "locale.alias",
];
const ETC_NETWORK_FILES = ["hosts", "resolv.conf", "ssl/certs", "ca-certificates.conf"];
const DATA_PATHS = ["/usr/lib/locale", "/usr/share/zoneinfo", "/usr/share/i18n/charmaps"];
// Data a few well-known programs read at run time (no executables).
const PROGRAM_DATA: Readonly<Record<string, readonly string[]>> = {
  git: ["/usr/share/git-core/templates"],
  file: ["/usr/share/misc/magic", "/usr/share/misc/magic.mgc", "/usr/lib/file/magic.mgc", "/etc/magic"],
};

/** Builds bwrap's mount arguments: symlinks recreated as on the host, every other path bound at its real place. */
class MountPlan {
  readonly args: string[] = [];
  readonly #done = new Map<string, "ro" | "rw" | "link">();

  /** Makes `path` (as named, through any symlinks) visible at the same place inside, read-only or writable. */
  expose(path: string, mode: "ro" | "rw"): void {
    let current = posix.normalize(path);
    for (let hops = 0; hops < 40; hops++) {
      const parts = current.split("/").filter((part) => part !== "");
      let prefix = "";
      let redirected = false;
      for (const [index, part] of parts.entries()) {
        prefix = `${prefix}/${part}`;
        let stat: ReturnType<typeof lstatSync>;
        try {
          stat = lstatSync(prefix);
        } catch {
          return; // absent on this machine: nothing to expose
        }
        if (!stat.isSymbolicLink()) continue;
        const target = readlinkSync(prefix);
        if (!this.#done.has(prefix) && !this.#covered(prefix)) {
          this.#done.set(prefix, "link");
          this.args.push("--symlink", target, prefix);
        }
        current = posix.join(
          posix.isAbsolute(target) ? target : posix.join(posix.dirname(prefix), target),
          ...parts.slice(index + 1),
        );
        redirected = true;
        break;
      }
      if (!redirected) {
        this.#bind(current, mode);
        return;
      }
    }
  }

  /** Recreates the host's symlink `path` (and nothing it points to). */
  link(path: string): void {
    if (this.#done.has(path)) return;
    this.#done.set(path, "link");
    this.args.push("--symlink", readlinkSync(path), path);
  }

  /** Binds a host path that is known to exist at `inside`. */
  bindAt(host: string, inside: string): void {
    this.args.push("--ro-bind", host, inside);
    this.#done.set(inside, "ro");
  }

  #covered(path: string): boolean {
    for (let parent = posix.dirname(path); ; parent = posix.dirname(parent)) {
      const mode = this.#done.get(parent);
      if (mode === "ro" || mode === "rw") return true;
      if (parent === "/") return false;
    }
  }

  #bind(path: string, mode: "ro" | "rw"): void {
    const done = this.#done.get(path);
    if (done === mode || done === "rw") return;
    if (mode === "ro" && this.#covered(path)) return;
    this.#done.set(path, mode);
    this.args.push(mode === "rw" ? "--bind" : "--ro-bind", path, path);
  }
}

/** Everything one sandboxed call needs to know. */
export interface SandboxSpec {
  readonly bwrap: string;
  /** The allowed programs: name → its path on this machine (found on PATH). */
  readonly programs: ReadonlyMap<string, string>;
  /** The writable working directory (absolute, existing); undefined: an empty private /tmp is the working directory. */
  readonly root?: string;
  /** Extra host paths visible read-only (absolute). */
  readonly readable: readonly string[];
  readonly network: boolean;
  /** Environment variables set inside (everything else is cleared). */
  readonly env: Readonly<Record<string, string>>;
}

function passwdFiles(): { passwd: string; group: string; home: string } {
  const uid = process.getuid?.() ?? 65534;
  const gid = process.getgid?.() ?? 65534;
  const name = uid === 0 ? "root" : "sandbox";
  const group = gid === 0 ? "root" : "sandbox";
  const home = "/tmp";
  const passwd = [
    `${name}:x:${uid}:${gid}:${name}:${home}:/usr/sbin/nologin`,
    ...(uid === 65534 ? [] : ["nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin"]),
  ];
  const groups = [`${group}:x:${gid}:`, ...(gid === 65534 ? [] : ["nogroup:x:65534:"])];
  return { passwd: `${passwd.join("\n")}\n`, group: `${groups.join("\n")}\n`, home };
}

/**
 * The bwrap command line for one call of `command` with `args`, and the data bwrap reads from the extra file
 * descriptors (the sandbox's /etc/passwd on fd 3 and /etc/group on fd 4). Throws (a plain Error, reported to the
 * model as the call's failure) when a program cannot be set up, e.g. a script whose interpreter is not allowed.
 */
export function sandboxCommand(
  spec: SandboxSpec,
  command: string,
  args: readonly string[],
): { file: string; args: string[]; fds: readonly [string, string] } {
  const plan = new MountPlan();
  plan.args.push("--dev", "/dev", "--proc", "/proc", "--size", String(SANDBOX_TMP_BYTES), "--tmpfs", "/tmp");
  plan.args.push("--dir", SANDBOX_BIN);
  // /bin, /sbin, /lib* as on the host when they are links into /usr (merged /usr); never their contents.
  for (const top of ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    try {
      if (lstatSync(top).isSymbolicLink()) plan.link(top);
    } catch {
      // absent
    }
  }
  const allowed = new Set(spec.programs.keys());
  const libraries = new Set<string>();
  for (const [name, hostPath] of spec.programs) {
    const real = realpathSync(hostPath);
    plan.bindAt(real, `${SANDBOX_BIN}/${name}`);
    const interpreter = interpreterOf(real);
    if (interpreter !== undefined) {
      if (!allowed.has(basename(interpreter)) || !/^\/(usr\/)?bin\//.test(interpreter)) {
        throw new Error(
          `${name} is a script run by ${interpreter}, which is not an allowed program, so the sandbox cannot run it; allow a program that is not a script, or its interpreter as well`,
        );
      }
      continue;
    }
    for (const library of librariesOf(real)) libraries.add(library);
    for (const data of PROGRAM_DATA[name] ?? []) plan.expose(data, "ro");
  }
  for (const library of libraries) plan.expose(library, "ro");
  for (const data of DATA_PATHS) plan.expose(data, "ro");
  // Character set converters (iconv), next to libc, wherever this machine's multiarch directory is.
  for (const library of libraries) {
    if (/\/libc\.so\.\d+$/.test(library)) plan.expose(join(dirname(realpathSync(library)), "gconv"), "ro");
  }
  for (const file of ETC_FILES) plan.expose(`/etc/${file}`, "ro");
  if (spec.network) for (const file of ETC_NETWORK_FILES) plan.expose(`/etc/${file}`, "ro");
  for (const path of spec.readable) plan.expose(path, "ro");
  const users = passwdFiles();
  plan.args.push("--ro-bind-data", "3", "/etc/passwd", "--ro-bind-data", "4", "/etc/group");
  if (spec.root !== undefined) plan.expose(spec.root, "rw");

  const env = Object.entries({ ...spec.env, PATH: SANDBOX_BIN, HOME: users.home });
  return {
    file: spec.bwrap,
    args: [
      ...NAMESPACES,
      ...(spec.network ? [] : ["--unshare-net"]),
      "--hostname",
      "sandbox",
      ...plan.args,
      "--chdir",
      spec.root === undefined ? "/tmp" : realpathSync(spec.root),
      "--clearenv",
      ...env.flatMap(([name, value]) => ["--setenv", name, value]),
      "--",
      command,
      ...args,
    ],
    fds: [users.passwd, users.group],
  };
}
