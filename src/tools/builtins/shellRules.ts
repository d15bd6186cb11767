/**
 * The shell tool's second layer: per-program argument rules, checked before anything is spawned. A rule is a list
 * of argument patterns a program may not receive; built-in rules cover well-known programs that can start other
 * programs or read files named inside other files (`find -exec`, `git -c alias.x=!…`, `env sh`, `wc
 * --files0-from`). An agent's `rules.<program>` replaces the built-in rule of that program (`deny: []` switches it
 * off). The sandbox is what confines a program; these rules stop the known ways around an allow-list, which is
 * all that stands between a model and the machine under `sandbox: none`, and they are best effort: they cannot
 * parse every program's options.
 */
import { EdgecrewError, ErrorCodes } from "../../errors.js";

/** What one program may not receive: argument patterns (see {@link matchesPattern}). */
export type ShellRule = { readonly deny: readonly string[] };

// Programs that run another program named in their arguments. For these, a shell or an interpreter named
// anywhere in the arguments (bare or as a path) is refused: an allow-list entry must not be a way to `sh`.
const LAUNCHERS = [
  "env",
  "xargs",
  "nice",
  "nohup",
  "timeout",
  "setsid",
  "stdbuf",
  "time",
  "ionice",
  "taskset",
  "chrt",
  "flock",
  "unshare",
  "nsenter",
  "chroot",
  "sudo",
  "doas",
  "su",
  "runuser",
  "watch",
  "strace",
  "ltrace",
  "script",
  "parallel",
];

const INTERPRETERS = [
  "sh",
  "ash",
  "bash",
  "dash",
  "zsh",
  "ksh",
  "mksh",
  "csh",
  "tcsh",
  "fish",
  "busybox",
  "python*",
  "perl*",
  "ruby*",
  "node",
  "nodejs",
  "php*",
  "lua*",
  "tclsh*",
  "awk",
  "gawk",
  "mawk",
  "nawk",
  "sed",
  "find",
  "xargs",
  "env",
  ...LAUNCHERS,
];
const INTERPRETER_PATTERNS = [...new Set(INTERPRETERS)].flatMap((name) => [name, `*/${name}`]);

/**
 * The built-in rules, by program name. Each denies the options through which that program runs another program,
 * writes outside the paths it is given, or reads a list of file names from a file.
 */
export const DEFAULT_SHELL_RULES: Readonly<Record<string, ShellRule>> = Object.freeze({
  find: { deny: ["-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0", "-fprintf", "-fls"] },
  git: {
    deny: [
      "-c",
      "--config-env",
      "--exec-path",
      "--upload-pack",
      "--receive-pack",
      "--template",
      "--git-dir",
      "--work-tree",
      // `git config core.fsmonitor …` (or alias.*, core.pager, core.sshCommand) makes a later git call run it.
      "config",
    ],
  },
  env: { deny: ["-S", "--split-string", "-a", "--argv0", ...INTERPRETER_PATTERNS] },
  xargs: { deny: ["-a", "--arg-file", ...INTERPRETER_PATTERNS] },
  wc: { deny: ["--files0-from"] },
  du: { deny: ["--files0-from"] },
  sort: { deny: ["--files0-from", "--compress-program"] },
  tar: {
    deny: [
      "--to-command",
      "--use-compress-program",
      "-I",
      "--checkpoint-action",
      "--info-script",
      "--new-volume-script",
      "-F",
      "--rsh-command",
      "--rmt-command",
    ],
  },
  awk: { deny: ["-f", "--file", "-E", "--exec", "-l", "--load", "*system*", "*|*"] },
  gawk: { deny: ["-f", "--file", "-E", "--exec", "-l", "--load", "*system*", "*|*"] },
  mawk: { deny: ["-f", "--file", "-E", "--exec", "*system*", "*|*"] },
  nawk: { deny: ["-f", "--file", "*system*", "*|*"] },
  rsync: { deny: ["-e", "--rsh", "--rsync-path"] },
  zip: { deny: ["-T", "--test", "-TT", "--unzip-command"] },
  man: { deny: ["-P", "--pager", "-H", "--html"] },
  ...Object.fromEntries(
    LAUNCHERS.filter((name) => name !== "env" && name !== "xargs").map((name) => [
      name,
      { deny: INTERPRETER_PATTERNS },
    ]),
  ),
});

function globToRegExp(pattern: string): RegExp {
  const source = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${source}$`, "s");
}

/**
 * Whether one argument matches one deny pattern:
 * - a pattern with `*` is a glob over the whole argument (`*` matches any run of characters);
 * - `--name` matches `--name`, `--name=value`, and the abbreviations getopt accepts (`--na`, `--nam=value`: any
 *   prefix of at least one letter);
 * - `-x` (one character) matches `-x` and `-xvalue` (an attached value);
 * - anything else (`-exec`, `config`) matches itself only.
 *
 * @example
 * matchesPattern("--files0=/etc/passwd", "--files0-from"); // true
 * matchesPattern("-calias.x=!sh", "-c"); // true
 * matchesPattern("/usr/bin/sh", "*\/sh"); // true
 */
export function matchesPattern(arg: string, pattern: string): boolean {
  if (pattern.includes("*")) return globToRegExp(pattern).test(arg);
  if (pattern.startsWith("--") && pattern.length > 2) {
    if (!arg.startsWith("--") || arg.length <= 2) return false;
    const name = arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg;
    return name.length > 2 && pattern.startsWith(name);
  }
  if (/^-[^-]$/.test(pattern)) return arg.startsWith(pattern);
  return arg === pattern;
}

/** The rules in force for an allow-list: the built-in ones for its programs, replaced by the agent's own. */
export function effectiveRules(
  allow: readonly string[],
  rules: Readonly<Record<string, ShellRule>>,
): ReadonlyMap<string, { rule: ShellRule; source: "built-in" | "agent" }> {
  const effective = new Map<string, { rule: ShellRule; source: "built-in" | "agent" }>();
  for (const command of allow) {
    const own = Object.hasOwn(rules, command) ? rules[command] : undefined;
    const builtin = Object.hasOwn(DEFAULT_SHELL_RULES, command) ? DEFAULT_SHELL_RULES[command] : undefined;
    if (own !== undefined) effective.set(command, { rule: own, source: "agent" });
    else if (builtin !== undefined) effective.set(command, { rule: builtin, source: "built-in" });
  }
  return effective;
}

/**
 * Throws TOOL_REFUSED when an argument matches a deny pattern of the command's rule; the message (returned to the
 * model) names the argument, the pattern and whose rule it is.
 *
 * @example
 * checkShellArguments("wc", ["--files0-from=/etc/passwd"], effectiveRules(["wc"], {})); // throws TOOL_REFUSED
 */
export function checkShellArguments(
  command: string,
  args: readonly string[],
  rules: ReadonlyMap<string, { rule: ShellRule; source: "built-in" | "agent" }>,
): void {
  const entry = rules.get(command);
  if (entry === undefined) return;
  for (const [index, arg] of args.entries()) {
    const pattern = entry.rule.deny.find((candidate) => matchesPattern(arg, candidate));
    if (pattern === undefined) continue;
    const whose =
      entry.source === "agent" ? `this agent's rules.${command}` : `the built-in rule for ${command}`;
    throw new EdgecrewError(
      ErrorCodes.TOOL_REFUSED,
      `${command}: argument ${index + 1} (${JSON.stringify(arg.length > 80 ? `${arg.slice(0, 80)}…` : arg)}) is refused by the shell tool's argument rules (${JSON.stringify(pattern)}, ${whose}): such arguments can run other programs or read files outside the tool's root; nothing was run`,
      { context: { tool: "shell.run", command, argument: index, pattern, rule: entry.source } },
    );
  }
}
