/**
 * Tools on the direct chat-completions path, as `@effect/ai-openrouter` sends and reads them: the
 * `tools` and `tool_choice` of a request, the `tool_calls` and `tool` messages of a prompt, and the
 * tool-call parts of a response with their parameters decoded by the tool's Schema (what
 * `LanguageModel` does with the package's parts).
 *
 * Only calls that leave tool calls to the caller (`disableToolCallResolution`, as agents ask) come
 * here; a call whose tools `LanguageModel` should run, provider-defined tools and a `oneOf` tool
 * choice stay on the package.
 */
import * as AiError from "@effect/ai/AiError"
import type * as Prompt from "@effect/ai/Prompt"
import * as Response from "@effect/ai/Response"
import * as Tool from "@effect/ai/Tool"
import { Either, Schema } from "effect"

/** What a call with tools adds to a request. */
export interface RequestTools {
  readonly tools: ReadonlyArray<unknown>
  readonly tool_choice: unknown
  /** The tools by name, to read the response's calls with. */
  readonly byName: Readonly<Record<string, Tool.Any>>
}

/** The call options this module reads. */
export interface ToolOptions {
  readonly toolkit?: unknown
  readonly toolChoice?: unknown
  readonly disableToolCallResolution?: boolean | undefined
}

// A tool's request entry, built once per tool object (its JSON schema is the costly part).
const definitions = new WeakMap<object, unknown>()
const definitionOf = (tool: Tool.Any): unknown => {
  let found = definitions.get(tool)
  if (found === undefined) {
    found = {
      type: "function",
      function: { name: tool.name, description: Tool.getDescription(tool as never), parameters: Tool.getJsonSchema(tool as never), strict: true }
    }
    definitions.set(tool, found)
  }
  return found
}

const choiceOf = (choice: unknown): unknown => {
  if (choice === undefined || choice === "auto") return "auto"
  if (choice === "none" || choice === "required") return choice
  if (typeof choice === "object" && choice !== null && "tool" in choice && typeof choice.tool === "string") {
    return { type: "function", function: { name: choice.tool } }
  }
  return undefined
}

/**
 * The tools of a call, `null` when it has none, `undefined` when this path cannot send it (tools
 * to run for the caller, provider-defined tools, a `oneOf` choice).
 */
export const requestTools = (options: ToolOptions): RequestTools | null | undefined => {
  if (options.toolkit === undefined) return null
  const tools = (options.toolkit as { readonly tools?: Record<string, Tool.Any> }).tools
  if (tools === undefined || options.disableToolCallResolution !== true) return undefined
  const all = Object.values(tools)
  if (all.length === 0) return null
  if (all.some((tool) => Tool.isProviderDefined(tool))) return undefined
  const tool_choice = choiceOf(options.toolChoice)
  if (tool_choice === undefined) return undefined
  return { tools: all.map(definitionOf), tool_choice, byName: tools }
}

/** A chat message of an assistant turn or a tool result, as the package sends it. */
export type ToolMessage =
  | { readonly role: "assistant"; readonly content: string; readonly tool_calls?: ReadonlyArray<unknown> }
  | { readonly role: "tool"; readonly tool_call_id: string; readonly content: string }

const hasOptions = (options: unknown): boolean =>
  options !== undefined && (typeof options !== "object" || options === null || Object.keys(options).length > 0)

/** An assistant message with text and tool-call parts, or `undefined` when it holds anything else. */
export const assistantMessage = (message: Prompt.AssistantMessage): ToolMessage | undefined => {
  let text = ""
  const calls: Array<unknown> = []
  for (const part of message.content) {
    if (hasOptions(part.options)) return undefined
    if (part.type === "text") text += part.text
    else if (part.type === "tool-call") {
      calls.push({ id: part.id, type: "function", function: { name: part.name, arguments: JSON.stringify(part.params) } })
    } else return undefined
  }
  return calls.length === 0 ? { role: "assistant", content: text } : { role: "assistant", content: text, tool_calls: calls }
}

/** The messages of a tool turn, one per result, or `undefined` when a part has provider options. */
export const toolMessages = (message: Prompt.ToolMessage): Array<ToolMessage> | undefined => {
  const out: Array<ToolMessage> = []
  for (const part of message.content) {
    if (hasOptions(part.options)) return undefined
    out.push({ role: "tool", tool_call_id: part.id, content: JSON.stringify(part.result) })
  }
  return out
}

const malformed = (description: string, cause?: unknown) =>
  new AiError.MalformedOutput({ module: "LanguageModel", method: "generateText", description, ...(cause === undefined ? {} : { cause }) })

/**
 * `parts` with each tool call's arguments (the JSON text `chatCompletionsResponse` read) parsed and
 * decoded with its tool's Schema; a call the tools cannot read (unknown tool, arguments that are
 * not JSON or do not decode) fails the call as `MalformedOutput`, as `LanguageModel` fails it on
 * the package's path.
 */
export const decodeToolCalls = (
  parts: Array<Response.AnyPart>,
  tools: Readonly<Record<string, Tool.Any>> | undefined
): Either.Either<Array<Response.AnyPart>, AiError.AiError> => {
  if (!parts.some((part) => part.type === "tool-call")) return Either.right(parts)
  const out: Array<Response.AnyPart> = []
  for (const part of parts) {
    if (part.type !== "tool-call") {
      out.push(part)
      continue
    }
    const tool = tools?.[part.name]
    if (tool === undefined) return Either.left(malformed(`the model called a tool it was not offered: '${part.name}'`))
    let raw: unknown
    try {
      raw = Tool.unsafeSecureJsonParse(typeof part.params === "string" ? part.params : "")
    } catch (cause) {
      return Either.left(malformed(`Failed to securely parse tool call parameters for tool '${part.name}'`, cause))
    }
    const decoded = Schema.decodeUnknownEither(tool.parametersSchema as Schema.Schema<unknown, unknown>)(raw)
    if (Either.isLeft(decoded)) {
      return Either.left(AiError.MalformedOutput.fromParseError({ module: "LanguageModel", method: "generateText", error: decoded.left }))
    }
    out.push(Response.makePart("tool-call", { id: part.id, name: part.name, params: decoded.right, providerExecuted: false }) as Response.AnyPart)
  }
  return Either.right(out)
}
