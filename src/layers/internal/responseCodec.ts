/**
 * How a `LanguageModel` response is stored in the LLM cache and read back.
 *
 * The cache holds opaque strings; we store the response's content parts in their encoded (JSON)
 * form, which is exactly what a provider returns, so a hit rebuilds the same `GenerateTextResponse`
 * the provider call would have produced. A value that no longer decodes counts as a miss.
 */
import { LanguageModel, Response, Toolkit } from "@effect/ai"
import { Effect, Option, Schema } from "effect"

const Parts = Schema.Array(Response.Part(Toolkit.empty))
const PartsJson = Schema.parseJson(Parts)

const encodeParts = Schema.encode(PartsJson)
const decodeParts = Schema.decodeUnknown(PartsJson)

/** The cache value of a response: its content parts as JSON. */
export const encode = (response: LanguageModel.GenerateTextResponse<{}>): Effect.Effect<Option.Option<string>> =>
  encodeParts(response.content as ReadonlyArray<Response.Part<{}>>).pipe(Effect.option)

/** The response a cache value stands for, or `None` if it no longer decodes. */
export const decode = (value: string): Effect.Effect<Option.Option<LanguageModel.GenerateTextResponse<{}>>> =>
  decodeParts(value).pipe(
    Effect.map((parts) => new LanguageModel.GenerateTextResponse<{}>([...parts])),
    Effect.option
  )
