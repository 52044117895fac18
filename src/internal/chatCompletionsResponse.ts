/**
 * The response half of the direct chat-completions path: a 2xx body read into the same
 * `Response` parts `@effect/ai-openrouter` builds (metadata, reasoning, text, sources, finish with
 * usage and OpenRouter's `usage.cost`), then into the `LanguageModel` response of the call. Read
 * by hand rather than through the package's response schema: see `chatCompletionsDirect` for why.
 *
 * A body that is not a chat completion this path can read is reported, never silently dropped: the
 * exchange turns the problem into a `Decode` error that keeps the raw text.
 */
import * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import * as Response from "@effect/ai/Response"
import { DateTime, Effect, Either, Option } from "effect"
import type { Prepared } from "./chatCompletionsRequest.js"
import { decodeToolCalls } from "./chatCompletionsTools.js"

export const FINISH_REASONS: Readonly<Record<string, Response.FinishReason>> = {
  content_filter: "content-filter",
  error: "error",
  function_call: "tool-calls",
  tool_calls: "tool-calls",
  length: "length",
  stop: "stop"
}

export const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
export const numberOrUndefined = (u: unknown): number | undefined => typeof u === "number" ? u : undefined

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
 * Parts this path does not build: images (only sent when a request asks for image output, which
 * ours never do), and tool calls it cannot read. Such a body is reported as malformed with its raw
 * text, never silently dropped.
 */
const unexpectedPart = (message: Record<string, unknown>): string | undefined => {
  const images = message["images"]
  if (Array.isArray(images) && images.length > 0) return "the response carries images, which this call did not ask for"
  const calls = message["tool_calls"]
  if (calls === undefined || calls === null) return undefined
  if (!Array.isArray(calls) || !calls.every((c) => isRecord(c) && typeof c["id"] === "string" && isRecord(c["function"]) && typeof c["function"]["name"] === "string")) {
    return "the response's tool_calls are not function calls"
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
export const metadataPart = (
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
export const usageOf = (fields: ConstructorParameters<typeof Response.Usage>[0]): Response.Usage =>
  Object.assign(Object.create(Response.Usage.prototype) as Response.Usage, fields)
export const finishPart = (reason: Response.FinishReason, usage: Response.Usage, metadata: Readonly<Record<string, unknown>>): Response.AnyPart =>
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
  // Arguments stay JSON text here; `respond` decodes them with the call's tools.
  for (const call of arrayOf(message["tool_calls"])) {
    const fn = call["function"] as Record<string, unknown>
    parts.push(Response.makePart("tool-call", { id: call["id"] as string, name: fn["name"] as string, params: fn["arguments"], providerExecuted: false }) as Response.AnyPart)
  }
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

/** The parts of a 2xx body's text, or why it is not a chat completion this path can read. */
export const readCompletion = (text: string): Either.Either<Array<Response.AnyPart>, string> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return Either.left("the response body is not valid JSON")
  }
  const problem = shapeProblem(json)
  return problem === undefined ? Either.right(partsOf(json as Record<string, unknown>)) : Either.left(problem)
}

/** The response of a prepared call from its parts (the structured value decoded for objects). */
export const respond = (
  prepared: Prepared,
  read: Array<Response.AnyPart>
): Effect.Effect<LanguageModel.GenerateTextResponse<{}>, AiError.AiError> => {
  const decoded = decodeToolCalls(read, prepared.tools)
  if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
  const parts = decoded.right
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
