/**
 * CachedResponses — LLM responses in the `LlmCache`: encoded on write, decoded on read.
 *
 * The decoded responses of recent entries are kept with the text they came from, so a hit on an
 * entry read (or written) before reuses the response instead of parsing the same text again: the
 * parse is the largest cost of a hit. Bounded in entries and in size; oldest dropped first.
 */
import type { LanguageModel } from "@effect/ai"
import { Effect, Option } from "effect"
import * as ResponseCodec from "../internal/responseCodec.js"
import type { LlmCacheService } from "../services/LlmCache.js"

type Response = LanguageModel.GenerateTextResponse<{}>

/** Decoded values kept for reuse, and the largest value worth keeping. */
const DECODED_ENTRIES = 1_024
const DECODED_MAX_CHARS = 64 * 1024

export interface CachedResponses {
  /** The cached response of `key`, or `None` on a miss or a value that no longer decodes. */
  readonly read: (key: string) => Effect.Effect<Option.Option<Response>>
  /** Stores `response` under `key` (a response that cannot be encoded is not stored). */
  readonly write: (key: string, response: Response) => Effect.Effect<void>
}

const miss = Effect.succeed(Option.none<Response>())

export const make = (cache: LlmCacheService): CachedResponses => {
  // Each kept as the read's answer itself: a repeated hit allocates nothing for it.
  const decoded = new Map<string, { readonly value: string; readonly hit: Effect.Effect<Option.Option<Response>> }>()
  const remember = (key: string, value: string, response: Response): void => {
    if (value.length > DECODED_MAX_CHARS) return
    decoded.delete(key)
    decoded.set(key, { value, hit: Effect.succeed(Option.some(response)) })
    if (decoded.size > DECODED_ENTRIES) decoded.delete(decoded.keys().next().value!)
  }
  const decode = (key: string, value: string): Effect.Effect<Option.Option<Response>> => {
    const known = decoded.get(key)
    if (known !== undefined && known.value === value) return known.hit
    return Effect.tap(ResponseCodec.decode(value), (response) => {
      if (Option.isSome(response)) remember(key, value, response.value)
    })
  }
  return {
    read: (key) => Effect.flatMap(cache.get(key), (value) => Option.isNone(value) ? miss : decode(key, value.value)),
    write: (key, response) =>
      Effect.suspend(() => {
        const value = ResponseCodec.unsafeEncode(response)
        if (Option.isNone(value)) return Effect.void
        remember(key, value.value, response)
        return cache.set(key, value.value)
      })
  }
}
