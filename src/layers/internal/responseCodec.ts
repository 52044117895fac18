/**
 * How a `LanguageModel` response is stored in the LLM cache and read back.
 *
 * The cache holds opaque strings; we store the response's content parts in their encoded (JSON)
 * form, which is exactly what a provider returns, so a hit rebuilds the same `GenerateTextResponse`
 * the provider call would have produced. A value that no longer decodes counts as a miss.
 *
 * The parts schema runs synchronously (`encodeEither` / `decodeUnknownEither`) with the JSON step
 * done by hand: the same text as `Schema.parseJson` (which is `JSON.stringify` / `JSON.parse`
 * without options) without running the parser as an Effect, a visible share of a cache miss.
 */
import { LanguageModel, Response, Toolkit } from "@effect/ai"
import { Effect, Either, Option, Schema } from "effect"

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

/** The cache value of a response: its content parts as JSON. */
export const encode = (response: LanguageModel.GenerateTextResponse<{}>): Effect.Effect<Option.Option<string>> =>
  Effect.sync(() => {
    const encoded = encodeParts(response.content as ReadonlyArray<Response.Part<{}>>)
    return Either.isLeft(encoded) ? Option.none() : stringify(encoded.right)
  })

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
