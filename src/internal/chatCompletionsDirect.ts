/**
 * The direct path of the chat-completions adapter: plain-text and structured-output calls sent
 * straight over an undici keep-alive pool, answered with the same `GenerateTextResponse` parts
 * `@effect/ai-openrouter` builds.
 *
 * Why it exists: `LanguageModel.make` (0.37) decodes every response through the `Response.Part`
 * schema and builds a span, the generated OpenRouter client decodes the body through its own
 * schema, and `@effect/platform`'s client adds its request/response objects — measured here, the
 * bare `@effect/ai-openrouter` model managed ~940 calls/s where undici alone does ~4,500 (bench
 * `llm-overhead`). This path builds the request body and the response parts by hand, compiles what
 * a schema needs once per schema object, and keeps every error the package would produce: status
 * errors are the same `HttpResponseError` (headers, body, Retry-After), transport errors the same
 * `HttpRequestError`, and a body that is not a chat completion keeps its raw text.
 *
 * Calls it cannot express exactly — toolkits, file or tool parts in the prompt, provider options
 * such as cache control — return `undefined` from `prepare`, and the adapter hands them to the
 * package. Streams always go to the package. A test sends each kind of call both ways and compares
 * the request on the wire and the response.
 */
import * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import * as Prompt from "@effect/ai/Prompt"
import * as Response from "@effect/ai/Response"
import * as Tool from "@effect/ai/Tool"
import { DateTime, Effect, Option, Schema } from "effect"
import { Agent, type Dispatcher } from "undici"
import type { Deadline } from "./timeout.js"

/** The body sent to `/chat/completions`, as far as this path builds it. */
export interface ChatRequest {
  readonly [key: string]: unknown
  readonly model: string
  readonly messages: ReadonlyArray<ChatMessage>
}

interface ChatMessage {
  readonly role: "system" | "user" | "assistant"
  readonly content: string
}

/** One HTTP exchange's endpoint and fixed headers. */
export interface Endpoint {
  /** `<apiUrl>/chat/completions`. */
  readonly url: string
  /** Sent with every request, credentials included (never logged: errors blank them). */
  readonly headers: Readonly<Record<string, string>>
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

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
      case "user":
      case "assistant": {
        let text = ""
        for (const part of message.content) {
          if (part.type !== "text" || hasOptions(part.options)) return undefined
          text += part.text
        }
        // The package sends a lone user text part as a string, and joins an assistant's texts.
        if (message.role === "user" && message.content.length !== 1) return undefined
        out.push({ role: message.role, content: text })
        break
      }
      default:
        return undefined
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
interface ObjectFormat {
  readonly jsonSchema: unknown
  readonly description: string
  readonly decode: (text: string) => Effect.Effect<unknown, AiError.MalformedOutput>
}
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
export interface CallOptions {
  readonly prompt: RawPrompt
  readonly toolkit?: unknown
  readonly schema?: AnySchema
  readonly objectName?: string
}

/** A call this path can send, with what the response needs. */
export interface Prepared {
  readonly body: ChatRequest
  readonly format: ObjectFormat | undefined
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
  if (options.toolkit !== undefined) return undefined
  const messages = messagesOf(options.prompt)
  if (messages === undefined) return undefined
  const schema = options.schema
  if (schema === undefined) return { body: { model, ...config, messages }, format: undefined }
  const format = formatOf(schema)
  return {
    body: {
      model,
      ...config,
      messages,
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

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

const FINISH_REASONS: Readonly<Record<string, Response.FinishReason>> = {
  content_filter: "content-filter",
  error: "error",
  function_call: "tool-calls",
  tool_calls: "tool-calls",
  length: "length",
  stop: "stop"
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const numberOrUndefined = (u: unknown): number | undefined => typeof u === "number" ? u : undefined

/** Why a 2xx body is not a chat completion this path can read, or `undefined` if it is one. */
const shapeProblem = (json: unknown): string | undefined => {
  if (!isRecord(json)) return "the response is not a JSON object"
  const choices = json["choices"]
  if (!Array.isArray(choices) || choices.length === 0) return "Received response with no valid choices"
  const choice: unknown = choices[0]
  if (!isRecord(choice) || !isRecord(choice["message"])) return "the first choice has no message"
  const content = choice["message"]["content"]
  if (content !== undefined && content !== null && typeof content !== "string") return "the message content is not text"
  const unexpected = unexpectedPart(choice["message"])
  if (unexpected !== undefined) return unexpected
  if (json["usage"] !== undefined && json["usage"] !== null && !isRecord(json["usage"])) return "usage is not an object"
  return undefined
}

/**
 * Parts this path does not build: tool calls (no tools were offered, so the package would reject
 * them too) and images (only sent when a request asks for image output, which ours never do).
 * Such a body is reported as malformed with its raw text, never silently dropped.
 */
const unexpectedPart = (message: Record<string, unknown>): string | undefined => {
  for (const key of ["tool_calls", "images"]) {
    const value = message[key]
    if (Array.isArray(value) && value.length > 0) return `the response carries ${key}, which this call did not ask for`
  }
  return undefined
}

/**
 * A part whose provider metadata is passed through as the provider sent it (the package's
 * metadata types describe OpenRouter's documented fields; we copy, not check, them).
 */
const passThroughPart = (type: "reasoning" | "source", params: Readonly<Record<string, unknown>>): Response.AnyPart =>
  Response.makePart(type, params as never)

// The parts of every plain answer, written out as `Response.makePart` builds them (same keys, same
// order). `makePart` spreads its params into a literal with a computed symbol key, which V8 builds
// on its slow path: measured ~2-3 µs a part against ~0.1 µs written out, on every call.
const metadataPart = (
  id: Option.Option<string>,
  modelId: Option.Option<string>,
  timestamp: Option.Option<DateTime.Utc> | DateTime.Utc
): Response.AnyPart =>
  ({ id, modelId, timestamp, [Response.PartTypeId]: Response.PartTypeId, type: "response-metadata", metadata: {} }) as Response.AnyPart
const textPart = (text: string): Response.TextPart => ({ text, [Response.PartTypeId]: Response.PartTypeId, type: "text", metadata: {} })
/**
 * `new Response.Usage(fields, { disableValidation: true })` without the constructor's copy and
 * default-merging pass (~3 µs a call; `Usage` has no defaults): the same prototype and own keys.
 */
const usageOf = (fields: ConstructorParameters<typeof Response.Usage>[0]): Response.Usage =>
  Object.assign(Object.create(Response.Usage.prototype) as Response.Usage, fields)
const finishPart = (reason: Response.FinishReason, usage: Response.Usage, metadata: Readonly<Record<string, unknown>>): Response.AnyPart =>
  ({ reason, usage, metadata, [Response.PartTypeId]: Response.PartTypeId, type: "finish" }) as unknown as Response.AnyPart

const arrayOf = (u: unknown): ReadonlyArray<Record<string, unknown>> =>
  Array.isArray(u) ? u.filter(isRecord) : []

const nonEmpty = (u: unknown): u is string => typeof u === "string" && u.length > 0

/** A reasoning detail as the package turns it into a part (summaries, encrypted data, text). */
const reasoningPart = (detail: Record<string, unknown>, parts: Array<Response.AnyPart>): void => {
  switch (detail["type"]) {
    case "reasoning.summary":
      if (nonEmpty(detail["summary"])) parts.push(Response.makePart("reasoning", { text: detail["summary"] }))
      return
    case "reasoning.encrypted":
      if (nonEmpty(detail["data"])) {
        parts.push(passThroughPart("reasoning", {
          text: "",
          metadata: { openrouter: { type: "encrypted_reasoning", format: detail["format"], redactedData: detail["data"] } }
        }))
      }
      return
    case "reasoning.text":
      if (nonEmpty(detail["text"])) {
        parts.push(passThroughPart("reasoning", {
          text: detail["text"],
          metadata: { openrouter: { type: "reasoning", signature: detail["signature"] } }
        }))
      }
      return
  }
}

/** The response parts of a chat completion, as `@effect/ai-openrouter` builds them. */
const partsOf = (json: Record<string, unknown>): Array<Response.AnyPart> => {
  const choice = (json["choices"] as Array<Record<string, unknown>>)[0]!
  const message = choice["message"] as Record<string, unknown>
  const usage = isRecord(json["usage"]) ? json["usage"] : undefined
  const completionDetails = isRecord(usage?.["completion_tokens_details"]) ? usage["completion_tokens_details"] : undefined
  const promptDetails = isRecord(usage?.["prompt_tokens_details"]) ? usage["prompt_tokens_details"] : undefined
  const created = numberOrUndefined(json["created"])
  const parts: Array<Response.AnyPart> = [
    metadataPart(
      Option.fromNullable(typeof json["id"] === "string" ? json["id"] : undefined),
      Option.fromNullable(typeof json["model"] === "string" ? json["model"] : undefined),
      created === undefined ? Option.none() : DateTime.make(created * 1000)
    )
  ]
  const reasoning = message["reasoning"]
  if (typeof reasoning === "string" && reasoning.length > 0) parts.push(Response.makePart("reasoning", { text: reasoning }))
  for (const detail of arrayOf(message["reasoning_details"])) reasoningPart(detail, parts)
  const content = message["content"]
  if (typeof content === "string" && content.length > 0) parts.push(textPart(content))
  for (const annotation of arrayOf(message["annotations"])) {
    const citation = annotation["url_citation"]
    if (annotation["type"] !== "url_citation" || !isRecord(citation) || typeof citation["url"] !== "string") continue
    if (!URL.canParse(citation["url"])) continue
    parts.push(passThroughPart("source", {
      sourceType: "url",
      id: citation["url"],
      url: new URL(citation["url"]),
      title: typeof citation["title"] === "string" ? citation["title"] : "",
      metadata: { openrouter: { content: citation["content"] } }
    }))
  }
  const finishReason = choice["finish_reason"]
  parts.push(finishPart(
    typeof finishReason === "string" ? FINISH_REASONS[finishReason] ?? "unknown" : "unknown",
    usageOf({
      inputTokens: numberOrUndefined(usage?.["prompt_tokens"]),
      outputTokens: numberOrUndefined(usage?.["completion_tokens"]),
      totalTokens: numberOrUndefined(usage?.["total_tokens"]),
      reasoningTokens: numberOrUndefined(completionDetails?.["reasoning_tokens"]),
      cachedInputTokens: numberOrUndefined(promptDetails?.["cached_tokens"])
    }),
    {
      openrouter: {
        provider: json["provider"],
        usage: {
          cost: usage?.["cost"],
          promptTokensDetails: usage?.["prompt_tokens_details"],
          completionTokensDetails: usage?.["completion_tokens_details"],
          costDetails: usage?.["cost_details"]
        }
      }
    }
  ))
  return parts
}

// ---------------------------------------------------------------------------------------------
// The exchange
// ---------------------------------------------------------------------------------------------

const MODULE = "OpenRouterClient"
const METHOD = "createChatCompletion"

const headerRecord = (headers: Record<string, string | Array<string> | undefined>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return out
}

const requestDetails = (endpoint: Endpoint) => ({
  method: "POST" as const,
  url: endpoint.url,
  urlParams: [],
  hash: Option.none(),
  headers: { ...endpoint.headers }
})

/** A transport failure, worded like the platform's (`Transport`, the socket's own message kept). */
const transportError = (endpoint: Endpoint, cause: unknown): AiError.HttpRequestError =>
  new AiError.HttpRequestError({
    module: MODULE,
    method: METHOD,
    reason: "Transport",
    request: requestDetails(endpoint),
    description: cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause),
    cause
  }, { disableValidation: true })

const responseError = (
  endpoint: Endpoint,
  status: number,
  headers: Record<string, string>,
  reason: "StatusCode" | "Decode",
  body: string,
  description?: string
): AiError.HttpResponseError =>
  new AiError.HttpResponseError({
    module: MODULE,
    method: METHOD,
    reason,
    request: requestDetails(endpoint),
    response: { status, headers },
    body,
    ...(description === undefined ? {} : { description })
  }, { disableValidation: true })

/** Where `send` dispatches: the endpoint's origin and path, parsed once per endpoint. */
const targets = new WeakMap<Endpoint, { readonly origin: string; readonly path: string }>()
const targetOf = (endpoint: Endpoint) => {
  let found = targets.get(endpoint)
  if (found === undefined) {
    const url = new URL(endpoint.url)
    found = { origin: url.origin, path: `${url.pathname}${url.search}` }
    targets.set(endpoint, found)
  }
  return found
}

/** What an aborted exchange reports to undici (never seen by callers: they are settled first). */
const abortReason = (): Error => new Error("the call was interrupted or timed out")

/**
 * Sends one request on `pool` and reads the answer. Interrupting the fiber aborts the request, and
 * so does a `deadline` that passes first (the call then fails with its `onTimeout()` error): one
 * timer on this fiber instead of a fiber per attempt to race against one.
 *
 * It uses undici's `dispatch` handler API rather than `request`: the body arrives as buffers, with
 * no `Readable` stream, `AbortSignal` or body mixin per call — measured here ~1.6× less client CPU
 * per exchange at concurrency 1,000 (the same server, the same JSON).
 */
export const send = <E = never>(
  pool: Agent,
  endpoint: Endpoint,
  body: ChatRequest,
  deadline?: Deadline<E>
): Effect.Effect<Array<Response.AnyPart>, AiError.AiError | E> =>
  Effect.async<Array<Response.AnyPart>, AiError.AiError | E>((resume) => {
    const target = targetOf(endpoint)
    let settled = false
    let timer: ReturnType<typeof setTimeout> | undefined
    // undici hands the controller over when the request starts; an abort before that is kept.
    let controller: Dispatcher.DispatchController | undefined
    let abortRequested = false
    const abort = () => {
      abortRequested = true
      if (controller !== undefined && !controller.aborted) controller.abort(abortReason())
    }
    const settle = (effect: Effect.Effect<Array<Response.AnyPart>, AiError.AiError | E>) => {
      if (settled) return
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      resume(effect)
    }
    const answer = (status: number, headers: Record<string, string | Array<string> | undefined>, text: string) => {
      const fail = (reason: "StatusCode" | "Decode", description?: string) =>
        settle(Effect.fail(responseError(endpoint, status, headerRecord(headers), reason, text, description)))
      if (status < 200 || status >= 300) return fail("StatusCode")
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        return fail("Decode", "the response body is not valid JSON")
      }
      const problem = shapeProblem(json)
      if (problem !== undefined) return fail("Decode", problem)
      settle(Effect.succeed(partsOf(json as Record<string, unknown>)))
    }
    if (deadline !== undefined) {
      timer = setTimeout(() => {
        settle(Effect.fail(deadline.onTimeout()))
        abort()
      }, deadline.ms)
    }
    let status = 0
    // Kept as undici gives them; copied into a plain record only for an error (a 2xx needs none).
    let rawHeaders: Record<string, string | Array<string> | undefined> = {}
    let chunks: Array<Buffer> = []
    try {
      pool.dispatch({ origin: target.origin, path: target.path, method: "POST", headers: endpoint.headers, body: JSON.stringify(body) }, {
        onRequestStart: (started) => {
          controller = started
          if (abortRequested) started.abort(abortReason())
        },
        onResponseStart: (_, statusCode, responseHeaders) => {
          status = statusCode
          rawHeaders = responseHeaders
          chunks = []
        },
        onResponseData: (_, chunk) => {
          chunks.push(chunk)
        },
        onResponseEnd: () => {
          answer(status, rawHeaders, chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8"))
        },
        onResponseError: (_, error) => settle(Effect.fail(transportError(endpoint, error)))
      })
    } catch (error) {
      settle(Effect.fail(transportError(endpoint, error)))
    }
    return Effect.sync(() => {
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      abort()
    })
  })

/** The response of a prepared call from its parts (the structured value decoded for objects). */
export const respond = (
  prepared: Prepared,
  parts: Array<Response.AnyPart>
): Effect.Effect<LanguageModel.GenerateTextResponse<{}>, AiError.AiError> => {
  const format = prepared.format
  if (format === undefined) return Effect.succeed(new LanguageModel.GenerateTextResponse<{}>(parts as Array<Response.Part<{}>>))
  let text = ""
  let found = false
  for (const part of parts) {
    if (part.type === "text") {
      text += part.text
      found = true
    }
  }
  if (!found) {
    return Effect.fail(
      new AiError.MalformedOutput({
        module: "LanguageModel",
        method: "generateObject",
        description: "No object was generated by the large language model"
      })
    )
  }
  return Effect.map(format.decode(text), (value) => new LanguageModel.GenerateObjectResponse(value, parts as Array<Response.Part<{}>>))
}

/** A keep-alive connection pool for one endpoint's origin. */
export const makePool = (): Agent => new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 })
