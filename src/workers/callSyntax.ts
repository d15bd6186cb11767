/**
 * The call syntax of a model's chat wrapper as plain text for the turn grammar: node-llama-cpp's wrappers
 * describe how their model writes a function call (`<tool_call>\n{"name": "` … for Qwen, `<function=` … for
 * Llama 3.1), partly as special-token text. A grammar matches a special token by its text, so the text is all
 * the grammar needs; an end-of-generation token that closes a call (Llama 3.1's `<|eom_id|>`) is left out,
 * because llama.cpp ends generation on it rather than letting a grammar match it.
 */
import {
  type ChatWrapper,
  type LlamaModel,
  LlamaText,
  type SpecialToken,
  SpecialTokensText,
} from "node-llama-cpp";
import { EdgecrewError, ErrorCodes } from "../errors.js";
import type { CallSyntax } from "./turnGrammar.js";

type Piece = string | LlamaText;

function pieces(value: Piece): readonly (string | SpecialTokensText | SpecialToken)[] {
  return LlamaText(value).values;
}

function plain(value: Piece, wrapper: string): string {
  return pieces(value)
    .map((part) => {
      if (typeof part === "string") return part;
      if (part instanceof SpecialTokensText) return part.value;
      throw new EdgecrewError(
        ErrorCodes.MODEL_INVALID,
        `the chat wrapper ${wrapper} writes a built-in special token (${part.value}) inside function calls; edgecrew cannot constrain such calls`,
      );
    })
    .join("");
}

/** The suffix without the end-of-generation special tokens it ends with. */
function suffixText(value: Piece, model: LlamaModel, wrapper: string): string {
  const parts = [...pieces(value)];
  while (parts.length > 0) {
    const last = parts.at(-1);
    if (!(last instanceof SpecialTokensText)) break;
    const tokens = model.tokenize(last.value, true);
    const lastToken = tokens.at(-1);
    if (tokens.length !== 1 || lastToken === undefined || !model.isEogToken(lastToken)) break;
    parts.pop();
  }
  return plain(LlamaText(parts), wrapper);
}

/**
 * The call syntax of `wrapper` for `model` (see the file comment). Throws MODEL_INVALID when the wrapper has no
 * function calling or writes calls with built-in special tokens.
 */
export function callSyntaxOf(wrapper: ChatWrapper, model: LlamaModel): CallSyntax {
  const call = wrapper.settings.functions?.call;
  if (call === undefined) {
    throw new EdgecrewError(
      ErrorCodes.MODEL_INVALID,
      `the chat wrapper ${wrapper.wrapperName} has no function calling`,
    );
  }
  const name = wrapper.wrapperName;
  const paramsPrefix = plain(call.paramsPrefix, name);
  return {
    optionalPrefixSpace: call.optionalPrefixSpace,
    prefix: plain(call.prefix, name),
    paramsPrefix: (tool) => paramsPrefix.replaceAll("{{functionName}}", tool),
    suffix: suffixText(call.suffix, model, name),
  };
}
