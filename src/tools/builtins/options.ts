/**
 * Options of the built-in tools as the tools layer reads them. The config layer validates the YAML with its own
 * schema and fills in defaults; these schemas check the same option names again because `createBuiltinTool`
 * is also public API, called by code that never went through a YAML file. Defaults here equal the config
 * layer's (`DEFAULT_TOOL_OPTIONS`), which cannot be imported from here: config depends on tools, not back.
 */
import { isAbsolute } from "node:path";
import { z } from "zod";
import { EdgecrewError, ErrorCodes } from "../../errors.js";
import { formatZodIssues } from "../../schema/compile.js";
import type { Tool } from "../defineTool.js";

const MIB = 1024 * 1024;

/** Defaults of the built-in tools' options (the same values the YAML defaults to). */
export const BUILTIN_TOOL_DEFAULTS = Object.freeze({
  /** Whether every tool of a built-in family needs a human's approval before each call. */
  approve: false,
  fs: Object.freeze({ write: false, maxBytes: MIB, readHardlinks: false }),
  http: Object.freeze({ methods: Object.freeze(["GET"] as const), timeoutMs: 10_000, maxBytes: MIB }),
  shell: Object.freeze({ timeoutMs: 10_000, maxOutputBytes: 64 * 1024 }),
});

/** HTTP methods the http tool knows. */
export const HTTP_TOOL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] as const;
/** One HTTP method the http tool can be allowed to use. */
export type HttpToolMethod = (typeof HTTP_TOOL_METHODS)[number];

const positiveInt = () => z.number().int().positive();
const approveOption = () => z.boolean().default(BUILTIN_TOOL_DEFAULTS.approve);

/** Options of the `calculator` built-in: only whether its calls need approval. */
export const calculatorToolOptionsSchema = z.strictObject({ approve: approveOption() });
/** Validated `calculator` options, defaults applied. */
export type CalculatorToolOptions = z.output<typeof calculatorToolOptionsSchema>;

/** Options of the `fs` built-in; `root` must already be absolute (the config layer resolves it). */
export const fsToolOptionsSchema = z.strictObject({
  root: z.string().min(1).refine(isAbsolute, {
    message:
      "must be an absolute path (the agent loader resolves a relative root against the YAML's directory)",
  }),
  write: z.boolean().default(BUILTIN_TOOL_DEFAULTS.fs.write),
  maxBytes: positiveInt().default(BUILTIN_TOOL_DEFAULTS.fs.maxBytes),
  /** Whether fs.read may read a regular file with more than one hard link (fs.write never writes one). */
  readHardlinks: z.boolean().default(BUILTIN_TOOL_DEFAULTS.fs.readHardlinks),
  approve: approveOption(),
});
/** Validated `fs` options, defaults applied. */
export type FsToolOptions = z.output<typeof fsToolOptionsSchema>;

/** Options of the `http` built-in. URL patterns are parsed (and rejected when malformed) by the tool itself. */
export const httpToolOptionsSchema = z.strictObject({
  allow: z.array(z.string().min(1)).min(1),
  methods: z
    .array(z.enum(HTTP_TOOL_METHODS))
    .min(1)
    .default(() => [...BUILTIN_TOOL_DEFAULTS.http.methods]),
  timeoutMs: positiveInt().default(BUILTIN_TOOL_DEFAULTS.http.timeoutMs),
  maxBytes: positiveInt().default(BUILTIN_TOOL_DEFAULTS.http.maxBytes),
  approve: approveOption(),
});
/** Validated `http` options, defaults applied. */
export type HttpToolOptions = z.output<typeof httpToolOptionsSchema>;

/** How the shell tool confines its programs: `bwrap` (bubblewrap, the default) or `none` (an explicit opt-out). */
export const SHELL_SANDBOXES = ["bwrap", "none"] as const;

const absolutePath = () =>
  z.string().min(1).refine(isAbsolute, {
    message:
      "must be an absolute path (the agent loader resolves a relative path against the YAML's directory)",
  });

/** A bare program name: no path separator, no whitespace, no shell metacharacter. */
export const COMMAND_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/;

/** Options of the `shell` built-in. */
export const shellToolOptionsSchema = z.strictObject({
  allow: z
    .array(
      z.string().regex(COMMAND_NAME_PATTERN, { message: "must be a bare program name such as ls or cat" }),
    )
    .min(1),
  timeoutMs: positiveInt().default(BUILTIN_TOOL_DEFAULTS.shell.timeoutMs),
  maxOutputBytes: positiveInt().default(BUILTIN_TOOL_DEFAULTS.shell.maxOutputBytes),
  approve: approveOption(),
  /** The only writable directory, and the working directory; absolute (the config layer resolves it). */
  root: absolutePath()
    .refine((path) => path.replace(/\/+$/, "") !== "", {
      message: "cannot be / (the root is the one directory the sandbox lets programs write)",
    })
    .optional(),
  /** Extra host paths visible read-only inside the sandbox (absolute). */
  readable: z.array(absolutePath()).default([]),
  /** Whether programs may use the network (the sandbox has none otherwise). */
  network: z.boolean().default(false),
  /** `bwrap` (default): every call in a bubblewrap sandbox; `none`: unconfined, an explicit opt-out. */
  sandbox: z.enum(SHELL_SANDBOXES).default("bwrap"),
  /** Argument rules by program, replacing the built-in rule of that program (`deny: []` switches it off). */
  rules: z.record(z.string(), z.strictObject({ deny: z.array(z.string().min(1)) })).default({}),
});
/** Validated `shell` options, defaults applied. */
export type ShellToolOptions = z.output<typeof shellToolOptionsSchema>;

/** Parses a built-in's options, throwing TOOL_INVALID with every problem as `tool.path: message`. */
export function parseToolOptions<S extends z.ZodType>(
  tool: string,
  schema: S,
  options: unknown,
): z.output<S> {
  const parsed = z.safeParse(schema, options);
  if (parsed.success) return parsed.data;
  const errors = formatZodIssues(parsed.error.issues);
  throw new EdgecrewError(
    ErrorCodes.TOOL_INVALID,
    `invalid options for the ${tool} tool:\n${errors.join("\n")}`,
    {
      context: { tool, errors },
    },
  );
}

/**
 * The same tools with `spec.approve` set when `approve` is true (a built-in's `approve: true` option applies to
 * its whole family); unchanged otherwise.
 *
 * @example
 * withApproval(createShellTools({ allow: ["ls"] }), true); // [shell.run] with spec.approve === true
 */
export function withApproval(tools: readonly Tool[], approve: boolean): Tool[] {
  if (!approve) return [...tools];
  return tools.map((tool) =>
    tool.spec.approve
      ? tool
      : Object.freeze({ ...tool, spec: Object.freeze({ ...tool.spec, approve: true }) }),
  );
}
