/**
 * Tool approval on the command line: a tool marked `approve` asks the person at the terminal (y/N, showing the
 * arguments); without a terminal it is denied unless `--yes` was given. A denial goes back to the model as data.
 */
import type { ApprovalCallback } from "../tools/index.js";
import type { CliIo } from "./io.js";

/**
 * The approval callback for `run` and `resume`. `around` wraps the prompt (and the denial notice) so that a live
 * progress view can step aside while the terminal is in use.
 */
export function cliApproval(
  io: CliIo,
  options: { readonly yes: boolean; readonly around?: <T>(fn: () => Promise<T>) => Promise<T> },
): ApprovalCallback {
  const around = options.around ?? (<T>(fn: () => Promise<T>) => fn());
  return async ({ tool, args, subtaskId, worker, signal }) => {
    if (options.yes) return true;
    const shown = `${tool.name} for ${worker} (${subtaskId}) with ${JSON.stringify(args)}`;
    const ask = io.ask;
    if (ask === undefined) {
      return around(async () => {
        io.stderr.write(`denied ${shown}: no terminal to ask (pass --yes to approve tool calls)\n`);
        return false;
      });
    }
    const answer = await around(() => ask(`approve ${shown}? [y/N] `, signal).catch(() => ""));
    return /^\s*y(es)?\s*$/i.test(answer);
  };
}
