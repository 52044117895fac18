/**
 * Why not `@effect/ai-openrouter`'s client: this path is ~5× faster per call (README › Performance: bare provider vs `direct: false`).
 *
 * The direct path of the chat-completions adapter: plain-text and structured-output calls, with
 * tools whose calls the caller runs (`chatCompletionsTools`), built by hand
 * (`chatCompletionsRequest`), sent on an undici pool (`chatCompletionsExchange`) and read into the
 * same `GenerateTextResponse` parts the package builds (`chatCompletionsResponse`), with the same
 * errors. Everything else — tools `LanguageModel` should run, non-text parts, provider options —
 * stays on the package. Streams of plain prompts are sent on the same pool and read by hand too
 * (`chatCompletionsSse`), the package decoding each piece through schema classes. `test/chatCompletionsDirect.test.ts` sends each kind of call both ways and compares the
 * request on the wire, the response and the errors.
 */
import type * as AiError from "@effect/ai/AiError"
import type * as LanguageModel from "@effect/ai/LanguageModel"
import { Effect, type Scope, type Stream } from "effect"
import * as Exchange from "./chatCompletionsExchange.js"
import { type CallOptions, prepare } from "./chatCompletionsRequest.js"
import { respond } from "./chatCompletionsResponse.js"
import * as Sse from "./chatCompletionsSse.js"
import type { Part } from "./chatCompletionsStreamParts.js"

export type { CallOptions } from "./chatCompletionsRequest.js"
export type { Endpoint, TimeLimit } from "./chatCompletionsExchange.js"

/** The calls one model can send directly. */
export interface DirectPath {
  /**
   * The call, or `undefined` when it needs the package. `config` is the package's per-request
   * config (model settings from `OpenRouterLanguageModel.withConfigOverride`), sent as it is;
   * `limit`, when given, ends the call (request aborted) with its error.
   */
  readonly generate: (
    config: Readonly<Record<string, unknown>> | undefined,
    options: CallOptions,
    limit: Exchange.TimeLimit | undefined
  ) => Effect.Effect<LanguageModel.GenerateTextResponse<{}>, AiError.AiError> | undefined
  /**
   * The streamed call (`streamText`) of a plain prompt, or `undefined` when it needs the package
   * (tools, non-text parts, provider options).
   */
  readonly stream: (
    config: Readonly<Record<string, unknown>> | undefined,
    options: CallOptions
  ) => Stream.Stream<Part, AiError.AiError> | undefined
}

/** The direct path of `model` at `endpoint`; its connection pool closes with the scope. */
export const make = (model: string, endpoint: Exchange.Endpoint): Effect.Effect<DirectPath, never, Scope.Scope> =>
  Effect.map(Exchange.make(endpoint), (exchange) => ({
    generate: (config, options, limit) => {
      const prepared = prepare(model, config, options)
      return prepared === undefined
        ? undefined
        : Effect.flatMap(exchange.send(prepared.body, limit), (parts) => respond(prepared, parts))
    },
    stream: (config, options) => {
      // A toolkit, even an empty one, leaves the stream to the package (it may run the tools).
      if (options.toolkit !== undefined || options.schema !== undefined) return undefined
      const prepared = prepare(model, config, options)
      return prepared === undefined ? undefined : Sse.stream(exchange.connection, prepared.body)
    }
  }))
