/**
 * The request half of the direct chat-completions path: which calls it can send, and the
 * `/chat/completions` body for them, key for key as `@effect/ai-openrouter` builds it (by hand
 * rather than through the package's request schema: see `chatCompletionsDirect` for why).
 *
 * Tools (`chatCompletionsTools`) are sent when the caller runs the tool calls itself. Calls it cannot
 * express exactly — toolkits whose calls `LanguageModel` should run, file parts in the prompt,
 * provider options such as cache control — get `undefined` from `prepare`, and the adapter hands
 * them to the package.
 */
import * as AiError from "@effect/ai/AiError"
import * as Prompt from "@effect/ai/Prompt"
import * as Tool from "@effect/ai/Tool"
import { Effect, Schema } from "effect"
import { assistantMessage, requestTools, type ToolMessage, type ToolOptions, toolMessages } from "./chatCompletionsTools.js"

/** The body sent to `/chat/completions`, as far as this path builds it. */
export interface ChatRequest {
  readonly [key: string]: unknown
  readonly model: string
  readonly messages: ReadonlyArray<ChatMessage>
}

type ChatMessage = {
  readonly role: "system" | "user" | "assistant"
  readonly content: string
} | ToolMessage
type RawPrompt = Prompt.RawInput

const hasOptions = (options: unknown): boolean =>
  options !== undefined && (typeof options !== "object" || options === null || Object.keys(options).length > 0)

/**
 * Messages of an encoded prompt in the plain shape agents pass (`{ role, content: string }`), or
 * `undefined` when a message needs more than this path expresses.
 */
const plainMessages = (prompt: ReadonlyArray<unknown>): Array<ChatMessage> | undefined => {
  const out: Array<ChatMessage> = []
  for (const message of prompt) {
    if (typeof message !== "object" || message === null) return undefined
    const { content, options, role } = message as { role?: unknown; content?: unknown; options?: unknown }
    if (hasOptions(options) || typeof content !== "string") return undefined
    if (role !== "system" && role !== "user" && role !== "assistant") return undefined
    out.push({ role, content })
  }
  return out
}

/** Messages of a decoded `Prompt` with text-only parts and no provider options. */
const promptMessages = (prompt: Prompt.Prompt): Array<ChatMessage> | undefined => {
  const out: Array<ChatMessage> = []
  for (const message of prompt.content) {
    if (hasOptions(message.options)) return undefined
    switch (message.role) {
      case "system":
        out.push({ role: "system", content: message.content })
        break
      case "user": {
        // The package sends a lone user text part as a string.
        const part = message.content[0]
        if (message.content.length !== 1 || part?.type !== "text" || hasOptions(part.options)) return undefined
        out.push({ role: "user", content: part.text })
        break
      }
      case "assistant": {
        // Texts joined, tool calls as `tool_calls`, as the package sends them.
        const assistant = assistantMessage(message)
        if (assistant === undefined) return undefined
        out.push(assistant)
        break
      }
      case "tool": {
        const results = toolMessages(message)
        if (results === undefined) return undefined
        out.push(...results)
        break
      }
    }
  }
  return out
}

const messagesOf = (prompt: RawPrompt): Array<ChatMessage> | undefined => {
  if (typeof prompt === "string") return [{ role: "user", content: prompt }]
  if (Array.isArray(prompt)) {
    const plain = plainMessages(prompt)
    if (plain !== undefined) return plain
  }
  try {
    return promptMessages(Prompt.make(prompt))
  } catch {
    // Let the package report an invalid prompt in its own words.
    return undefined
  }
}

type AnySchema = Schema.Schema<any, any, never>

/** What a response schema contributes to a request, and its decoder; built once per schema. */
export interface ObjectFormat {
  readonly jsonSchema: unknown
  readonly description: string
  readonly decode: (text: string) => Effect.Effect<unknown, AiError.MalformedOutput>
}
// Cached per schema object: compiling the JSON Schema and the decoder on every call cost more
// than the rest of the request; agents reuse their schemas.
const formats = new WeakMap<object, ObjectFormat>()
const formatOf = (schema: AnySchema): ObjectFormat => {
  let found = formats.get(schema)
  if (found === undefined) {
    const decode = Schema.decode(Schema.parseJson(schema))
    found = {
      jsonSchema: Tool.getJsonSchemaFromSchemaAst(schema.ast),
      description: Tool.getDescriptionFromSchemaAst(schema.ast) ?? "Respond with a JSON object",
      // The wording `LanguageModel.generateObject` uses, so errors read the same on both paths.
      decode: (text) =>
        Effect.mapError(decode(text), (cause) =>
          new AiError.MalformedOutput({
            module: "LanguageModel",
            method: "generateObject",
            description: "Generated object failed to conform to provided schema",
            cause
          }))
    }
    formats.set(schema, found)
  }
  return found
}

/** The name `LanguageModel.generateObject` gives a schema's object when the caller gives none. */
const objectNameOf = (objectName: string | undefined, schema: AnySchema): string =>
  objectName ?? ("_tag" in schema && typeof schema._tag === "string"
    ? schema._tag
    : "identifier" in schema && typeof schema.identifier === "string"
    ? schema.identifier
    : "generateObject")

/** The call options of `generateText` / `generateObject`, as far as this path reads them. */
export interface CallOptions extends ToolOptions {
  readonly prompt: RawPrompt
  readonly schema?: AnySchema
  readonly objectName?: string
}

/** A call this path can send, with what the response needs. */
export interface Prepared {
  readonly body: ChatRequest
  readonly format: ObjectFormat | undefined
  /** The tools offered, by name, to read the response's tool calls with. */
  readonly tools: Readonly<Record<string, Tool.Any>> | undefined
}

/**
 * The request body of a call, or `undefined` when the call needs the package (tools, non-text
 * parts, provider options). `config` is the package's per-request config (model settings).
 */
export const prepare = (
  model: string,
  config: Readonly<Record<string, unknown>> | undefined,
  options: CallOptions
): Prepared | undefined => {
  const tools = requestTools(options)
  if (tools === undefined) return undefined
  const messages = messagesOf(options.prompt)
  if (messages === undefined) return undefined
  const offered = tools === null ? undefined : tools.byName
  const toolFields = tools === null ? {} : { tools: tools.tools, tool_choice: tools.tool_choice }
  const schema = options.schema
  if (schema === undefined) return { body: { model, ...config, messages, ...toolFields }, format: undefined, tools: offered }
  const format = formatOf(schema)
  return {
    tools: offered,
    body: {
      model,
      ...config,
      messages,
      ...toolFields,
      response_format: {
        type: "json_schema",
        json_schema: {
          name: objectNameOf(options.objectName, schema),
          description: format.description,
          schema: format.jsonSchema,
          strict: true
        }
      }
    },
    format
  }
}
