/**
 * The LLM cache's response codec: the hand encoding of plain answers must give the same JSON as
 * the parts schema, and every encoded value must decode back to the same response.
 */
import { LanguageModel, Response } from "@effect/ai"
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Effect, Option } from "effect"
import * as ResponseCodec from "../src/internal/responseCodec.js"

const usage = (fields: Partial<Response.Usage>) =>
  new Response.Usage({ inputTokens: undefined, outputTokens: undefined, totalTokens: undefined, ...fields })

const responses: ReadonlyArray<readonly [string, LanguageModel.GenerateTextResponse<{}>]> = [
  ["text and finish", new LanguageModel.GenerateTextResponse<{}>([
    Response.makePart("text", { text: "Paris \u00e9 \"quoted\"" }),
    Response.makePart("finish", { reason: "stop", usage: usage({ inputTokens: 3, outputTokens: 5, totalTokens: 8 }) })
  ])],
  ["every plain part, metadata and optional usage fields", new LanguageModel.GenerateTextResponse<{}>([
    Response.makePart("response-metadata", {
      id: Option.some("gen-1"),
      modelId: Option.some("vendor/model"),
      timestamp: Option.some(DateTime.unsafeMake(1_760_000_000_000))
    }),
    Response.makePart("reasoning", { text: "first", metadata: { openrouter: { type: "reasoning", signature: "s" } } }),
    Response.makePart("text", { text: "answer" }),
    Response.makePart("finish", {
      reason: "length",
      usage: usage({ inputTokens: 1, outputTokens: 2, totalTokens: 3, reasoningTokens: 4, cachedInputTokens: 5 }),
      metadata: { openrouter: { provider: "Host", usage: { cost: 0.25 } } }
    })
  ])],
  // Right after the case above: a different timestamp must not reuse the previous one's text.
  ["metadata with a later timestamp", new LanguageModel.GenerateTextResponse<{}>([
    Response.makePart("response-metadata", {
      id: Option.some("gen-2"),
      modelId: Option.none(),
      timestamp: Option.some(DateTime.unsafeMake(1_760_000_005_000))
    }),
    Response.makePart("text", { text: "later" })
  ])],
  ["metadata with nothing known and usage without counts", new LanguageModel.GenerateTextResponse<{}>([
    Response.makePart("response-metadata", { id: Option.none(), modelId: Option.none(), timestamp: Option.none() }),
    Response.makePart("finish", { reason: "unknown", usage: usage({}) })
  ])],
  ["a part only the schema encodes (a source)", new LanguageModel.GenerateTextResponse<{}>([
    Response.urlSourcePart({ id: "u", url: new URL("https://example.org/a"), title: "A" }),
    Response.makePart("text", { text: "cited" })
  ])]
]

describe("response codec", () => {
  for (const [name, response] of responses) {
    it.effect(`${name}: same JSON as the schema, decodes to the same response`, () =>
      Effect.gen(function*() {
        const encoded = yield* ResponseCodec.encode(response)
        const bySchema = ResponseCodec.encodeWithSchema(response)
        expect(Option.isSome(encoded)).toBe(true)
        expect(JSON.parse(Option.getOrThrow(encoded))).toEqual(JSON.parse(Option.getOrThrow(bySchema)))
        const decoded = yield* ResponseCodec.decode(Option.getOrThrow(encoded))
        expect(Option.getOrThrow(decoded).content).toEqual(response.content)
      }))
  }
})
