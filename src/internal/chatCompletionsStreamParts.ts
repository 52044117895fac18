/**
 * The parts half of the direct chat-completions stream: each `chat.completion.chunk` of a streamed
 * answer read into the stream parts `@effect/ai-openrouter` gives once `LanguageModel` has decoded
 * them (metadata, reasoning, text start/delta/end, sources, finish with usage and OpenRouter's
 * `usage.cost`). Read by hand rather than through the package's chunk schema classes and the
 * stream-part schema, which cost more per piece than everything else a streamed call does.
 *
 * A chunk this path cannot read — not JSON, no `choices`, text that is not a string, tool calls or
 * images a plain streamed call never asks for — is reported, never dropped: the wire half turns
 * the problem into a `Decode` error that keeps the chunk's raw text.
 */
import * as Response from "@effect/ai/Response"
import { DateTime, Option } from "effect"
import { finishPart, FINISH_REASONS, isRecord, metadataPart, numberOrUndefined, usageOf } from "./chatCompletionsResponse.js"

export type Part = Response.StreamPart<{}>

/** Reads the chunks of one stream, in order: the parts of each, or why it cannot be read. */
export type ChunkReader = (data: string) => ReadonlyArray<Part> | { readonly problem: string }

const PART = Response.PartTypeId
// Written out as the decoded parts are (same keys): `Response.makePart` builds them on V8's slow
// path, and these come once per piece of every stream.
const textStart = (id: string): Part => ({ type: "text-start", id, metadata: {}, [PART]: PART }) as Part
const textDelta = (id: string, delta: string): Part => ({ type: "text-delta", id, delta, metadata: {}, [PART]: PART }) as Part
const textEnd = (id: string): Part => ({ type: "text-end", id, metadata: {}, [PART]: PART }) as Part
/** A part whose provider metadata is passed through as the provider sent it. */
const rare = (type: Part["type"], params: Readonly<Record<string, unknown>>): Part => Response.makePart(type, params as never) as Part

const textOrAbsent = (u: unknown): boolean => u === undefined || u === null || typeof u === "string"
const filled = (u: unknown): u is ReadonlyArray<unknown> => Array.isArray(u) && u.length > 0

/** Why `event` is not a chunk this path can read, or `undefined` if it is one. */
const shapeProblem = (event: unknown): string | undefined => {
  if (!isRecord(event)) return "the chunk is not a JSON object"
  if (!Array.isArray(event["choices"])) return "the chunk has no choices"
  const choice: unknown = event["choices"][0]
  if (choice !== undefined && !isRecord(choice)) return "the chunk's first choice is not an object"
  const delta = isRecord(choice) ? choice["delta"] : undefined
  if (delta !== undefined && delta !== null && !isRecord(delta)) return "the chunk's delta is not an object"
  if (isRecord(delta)) {
    if (!textOrAbsent(delta["content"]) || !textOrAbsent(delta["reasoning"])) return "the chunk's text is not a string"
    if (filled(delta["tool_calls"])) return "the stream calls tools, which this call did not offer"
    if (filled(delta["images"])) return "the stream carries images, which this call did not ask for"
  }
  const usage = event["usage"]
  if (usage !== undefined && usage !== null && !isRecord(usage)) return "usage is not an object"
  return undefined
}

/** A new reader; `now` stamps the response metadata (epoch ms), as the package does. */
export const reader = (now: () => number): ChunkReader => {
  let nextId = 0
  let textId: string | undefined
  let reasoningId: string | undefined
  let finishReason: Response.FinishReason = "unknown"
  let metadataSent = false

  const reasoning = (parts: Array<Part>, delta: string, metadata?: Readonly<Record<string, unknown>>) => {
    if (textId !== undefined) parts.push(textEnd(textId))
    textId = undefined
    if (reasoningId === undefined) {
      reasoningId = String(nextId++)
      parts.push(rare("reasoning-start", { id: reasoningId, metadata: { openrouter: metadata } }))
    }
    parts.push(rare("reasoning-delta", { id: reasoningId, delta, metadata: { openrouter: metadata } }))
  }

  const reasoningDetails = (parts: Array<Part>, details: ReadonlyArray<unknown>) => {
    for (const detail of details) {
      if (!isRecord(detail)) continue
      const { data, summary, text } = detail
      if (detail["type"] === "reasoning.summary" && typeof summary === "string" && summary.length > 0) {
        reasoning(parts, summary)
      } else if (detail["type"] === "reasoning.encrypted" && typeof data === "string" && data.length > 0) {
        reasoning(parts, "", { type: "encrypted_reasoning", format: detail["format"], redactedData: data })
      } else if (detail["type"] === "reasoning.text" && typeof text === "string" && text.length > 0) {
        reasoning(parts, text, { type: "reasoning", signature: detail["signature"] })
      }
    }
  }

  const sources = (parts: Array<Part>, annotations: unknown) => {
    if (!Array.isArray(annotations)) return
    for (const annotation of annotations) {
      if (!isRecord(annotation) || annotation["type"] !== "url_citation") continue
      const citation = annotation["url_citation"]
      if (!isRecord(citation) || typeof citation["url"] !== "string" || !URL.canParse(citation["url"])) continue
      parts.push(rare("source", {
        sourceType: "url",
        id: citation["url"],
        url: new URL(citation["url"]),
        title: citation["title"],
        metadata: { openrouter: { content: citation["content"] } }
      }))
    }
  }

  const finish = (parts: Array<Part>, event: Record<string, unknown>, usage: Record<string, unknown>) => {
    if (reasoningId !== undefined) parts.push(rare("reasoning-end", { id: reasoningId }))
    if (textId !== undefined) parts.push(textEnd(textId))
    reasoningId = undefined
    textId = undefined
    const completion = isRecord(usage["completion_tokens_details"]) ? usage["completion_tokens_details"] : undefined
    const prompt = isRecord(usage["prompt_tokens_details"]) ? usage["prompt_tokens_details"] : undefined
    parts.push(finishPart(
      finishReason,
      usageOf({
        inputTokens: numberOrUndefined(usage["prompt_tokens"]),
        outputTokens: numberOrUndefined(usage["completion_tokens"]),
        totalTokens: numberOrUndefined(usage["total_tokens"]),
        reasoningTokens: numberOrUndefined(completion?.["reasoning_tokens"]),
        cachedInputTokens: numberOrUndefined(prompt?.["cached_tokens"])
      }),
      {
        openrouter: {
          provider: event["provider"] ?? undefined,
          usage: {
            cost: usage["cost"],
            promptTokensDetails: usage["prompt_tokens_details"],
            completionTokensDetails: usage["completion_tokens_details"],
            costDetails: usage["cost_details"]
          }
        }
      }
    ) as Part)
  }

  const read = (event: Record<string, unknown>): ReadonlyArray<Part> | { readonly problem: string } => {
    const parts: Array<Part> = []
    if (event["error"] !== undefined && event["error"] !== null) return [rare("error", { error: event["error"] })]
    if (typeof event["id"] === "string" && !metadataSent) {
      metadataSent = true
      const model = typeof event["model"] === "string" ? Option.some(event["model"]) : Option.none()
      parts.push(metadataPart(Option.some(event["id"]), model, Option.some(DateTime.unsafeMake(now()))) as Part)
    }
    const choice = (event["choices"] as ReadonlyArray<unknown>)[0] as Record<string, unknown> | undefined
    const usage = isRecord(event["usage"]) ? event["usage"] : undefined
    if (choice === undefined && usage === undefined) return { problem: "Received response with no valid choices" }
    const delta = isRecord(choice?.["delta"]) ? choice["delta"] : undefined
    if (filled(delta?.["reasoning_details"])) reasoningDetails(parts, delta["reasoning_details"])
    else if (typeof delta?.["reasoning"] === "string" && delta["reasoning"].length > 0) reasoning(parts, delta["reasoning"])
    const content = delta?.["content"]
    if (typeof content === "string" && content.length > 0) {
      if (reasoningId !== undefined) parts.push(rare("reasoning-end", { id: reasoningId }))
      reasoningId = undefined
      if (textId === undefined) {
        textId = String(nextId++)
        parts.push(textStart(textId))
      }
      parts.push(textDelta(textId, content))
    }
    sources(parts, delta?.["annotations"])
    const reason = choice?.["finish_reason"]
    if (typeof reason === "string") finishReason = FINISH_REASONS[reason] ?? "unknown"
    if (usage !== undefined) finish(parts, event, usage)
    return parts
  }

  return (data) => {
    let event: unknown
    try {
      event = JSON.parse(data)
    } catch {
      return { problem: "the chunk is not valid JSON" }
    }
    const problem = shapeProblem(event)
    return problem === undefined ? read(event as Record<string, unknown>) : { problem }
  }
}
