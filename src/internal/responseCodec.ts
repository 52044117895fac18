/**
 * How a `LanguageModel` response is stored in the LLM cache and read back.
 *
 * The cache holds opaque strings; we store the response's content parts in their encoded (JSON)
 * form, which is exactly what a provider returns, so a hit rebuilds the same `GenerateTextResponse`
 * the provider call would have produced. A value that no longer decodes counts as a miss.
 *
 * The parts schema runs synchronously (`encodeEither` / `decodeUnknownEither`) with the JSON step
 * done by hand: the same text as `Schema.parseJson` (which is `JSON.stringify` / `JSON.parse`
 * without options) without running the parser as an Effect, a visible share of a cache miss. The
 * parts of a plain answer (metadata, reasoning, text, finish) are encoded by hand to the same JSON
 * the schema gives (a test compares them); any other part takes the schema.
 */
import * as LanguageModel from "@effect/ai/LanguageModel"
import * as Response from "@effect/ai/Response"
import * as Toolkit from "@effect/ai/Toolkit"
import { DateTime, Effect, Either, Option, Schema } from "effect"

const Parts = Schema.Array(Response.Part(Toolkit.empty))

const encodeParts = Schema.encodeEither(Parts)
const decodeParts = Schema.decodeUnknownEither(Parts)

const stringify = (encoded: unknown): Option.Option<string> => {
  try {
    return Option.some(JSON.stringify(encoded))
  } catch {
    return Option.none()
  }
}

const parse = (value: string): Option.Option<unknown> => {
  try {
    return Option.some(JSON.parse(value))
  } catch {
    return Option.none()
  }
}

// The provider's `created` is whole seconds, so answers arriving together mostly share their
// timestamp: its ISO text is kept for the next part (formatting was a visible share of a miss).
let lastMillis = Number.NaN
let lastIso = ""
const isoOf = (dateTime: DateTime.Utc): string => {
  if (dateTime.epochMillis !== lastMillis) {
    lastIso = DateTime.formatIso(dateTime)
    lastMillis = dateTime.epochMillis
  }
  return lastIso
}

/** The encoded form of a plain answer's part, or `undefined` for a part only the schema encodes. */
const encodePlainPart = (part: Response.AnyPart): unknown => {
  switch (part.type) {
    case "text":
    case "reasoning":
      return { type: part.type, text: part.text, metadata: part.metadata }
    case "response-metadata": {
      // Keys assigned one by one, in the schema's order: spreading computed keys is V8's slow path.
      const out: Record<string, unknown> = { type: part.type }
      if (Option.isSome(part.id)) out["id"] = part.id.value
      if (Option.isSome(part.modelId)) out["modelId"] = part.modelId.value
      if (Option.isSome(part.timestamp)) out["timestamp"] = isoOf(part.timestamp.value)
      out["metadata"] = part.metadata
      return out
    }
    case "finish": {
      const usage = part.usage
      return {
        type: part.type,
        reason: part.reason,
        usage: {
          inputTokens: usage.inputTokens,
          outputTokens: usage.outputTokens,
          totalTokens: usage.totalTokens,
          reasoningTokens: usage.reasoningTokens,
          cachedInputTokens: usage.cachedInputTokens
        },
        metadata: part.metadata
      }
    }
    default:
      return undefined
  }
}

const encodePlain = (parts: ReadonlyArray<Response.AnyPart>): Array<unknown> | undefined => {
  const out: Array<unknown> = []
  for (const part of parts) {
    const encoded = encodePlainPart(part)
    if (encoded === undefined) return undefined
    out.push(encoded)
  }
  return out
}

/** The cache value of a response: its content parts as JSON. */
export const encode = (response: LanguageModel.GenerateTextResponse<{}>): Effect.Effect<Option.Option<string>> =>
  Effect.sync(() => unsafeEncode(response))

/** `encode`, run on the spot (it has no effects; the resilient layer's hot path saves the step). */
export const unsafeEncode = (response: LanguageModel.GenerateTextResponse<{}>): Option.Option<string> => {
  const plain = encodePlain(response.content as ReadonlyArray<Response.AnyPart>)
  return plain !== undefined ? stringify(plain) : encodeWithSchema(response)
}

/** The schema's encoding of a response (the test holds `encode` to it). */
export const encodeWithSchema = (response: LanguageModel.GenerateTextResponse<{}>): Option.Option<string> => {
  const encoded = encodeParts(response.content as ReadonlyArray<Response.Part<{}>>)
  return Either.isLeft(encoded) ? Option.none() : stringify(encoded.right)
}

/** The response a cache value stands for, or `None` if it no longer decodes. */
export const decode = (value: string): Effect.Effect<Option.Option<LanguageModel.GenerateTextResponse<{}>>> =>
  Effect.sync(() =>
    Option.flatMap(parse(value), (json) => {
      const parts = decodeParts(json)
      return Either.isLeft(parts)
        ? Option.none()
        : Option.some(new LanguageModel.GenerateTextResponse<{}>([...parts.right]))
    })
  )
