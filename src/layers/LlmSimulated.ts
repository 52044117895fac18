/**
 * LlmSimulated — an in-process `LanguageModel` for demos, tests and benchmarks: no network, no key.
 *
 * Output is a pure function of the seed and the prompt (the same prompt always gets the same
 * answer), and satisfies the requested Schema when structured output is asked for, via
 * `effect/Arbitrary` with a seeded fast-check sample. Faults are drawn from a seeded stream, one draw
 * per call, so retries of the same prompt can succeed: 429 with `Retry-After`, 500/503, and hangs
 * that only a timeout ends. Offered tools, it calls each of them once with arguments generated from
 * their Schemas, then answers (`toolCalls`). Latency goes through `Effect.sleep`, so `TestClock` controls it. Every
 * answer is labelled: the model id starts with `simulated-` and the metadata names the provider
 * "simulated".
 */
import * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Response from "@effect/ai/Response"
import { Clock, Duration, Effect, Either, Layer, Option, Stream } from "effect"
import { AppConfig, type AppConfigShape } from "../services/AppConfig.js"
import type { Deadline } from "../services/ModelFactory.js"
import { fnv1a, seededRandom } from "../internal/seededRandom.js"
import { makeDraw, type Outcome } from "../internal/simulatedFaults.js"
import { estimateTokens, plainText, promptText, structuredText, toolCalls } from "../internal/simulatedOutput.js"

/** The provider name shown wherever simulated output appears. */
export const PROVIDER = "simulated"

/** A model id that says it is simulated: `simulated-1` stays, `gpt-4o` becomes `simulated-gpt-4o`. */
export const modelId = (model: string): string => (model.startsWith("simulated") ? model : `simulated-${model}`)

/** What the simulated provider does. */
export interface Options {
  /** Model id; prefixed with `simulated-` when it is not already. */
  readonly model: string
  readonly seed: number
  /** Mean latency; each call waits between half and one and a half times this. */
  readonly latencyMs: number
  /** Share of calls failing with a 5xx or a hang (see `timeoutShare`). */
  readonly errorRate: number
  /** Share of calls answered 429 with a `Retry-After` header. */
  readonly rateLimitRate: number
  /** Share of `errorRate` that hangs instead of answering 5xx; default 0.2. */
  readonly timeoutShare?: number
  /** How long a hang lasts before it ends in a 504; default 10 minutes. */
  readonly hangMs?: number
  /** A call that would take longer fails with its error once it has passed (`ModelFactory`). */
  readonly deadline?: Deadline | undefined
}

// Kept here for users of this module; the functions live with the rest of the simulated output.
export { estimateTokens, promptText, structuredText } from "../internal/simulatedOutput.js"

const requestDetails = (model: string): AiError.HttpRequestError["request"] => ({
  method: "POST",
  url: `simulated://${PROVIDER}/${model}/chat/completions`,
  urlParams: [],
  hash: Option.none(),
  headers: {}
})

const httpError = (model: string, status: number, headers: Record<string, string>, description: string) =>
  new AiError.HttpResponseError({
    module: "LlmSimulated",
    method: "generateText",
    reason: "StatusCode",
    request: requestDetails(model),
    response: { status, headers },
    body: JSON.stringify({ error: { code: status, message: description } }),
    description
  })

const wait = (ms: number) => (ms > 0 ? Effect.sleep(Duration.millis(ms)) : Effect.void)

/** Waits out a fault and fails as the provider would; `Ok` passes. */
const failIfFault = (model: string, outcome: Outcome, hangMs: number): Effect.Effect<void, AiError.AiError> => {
  switch (outcome._tag) {
    case "Hang":
      return Effect.zipRight(wait(hangMs), httpError(model, 504, {}, `simulated timeout: no answer within ${hangMs} ms`))
    case "RateLimited":
      return Effect.zipRight(
        wait(outcome.latencyMs),
        httpError(model, 429, { "retry-after": String(outcome.retryAfterSeconds) }, "simulated rate limit")
      )
    case "ServerError":
      return Effect.zipRight(wait(outcome.latencyMs), httpError(model, outcome.status, {}, `simulated server error ${outcome.status}`))
    case "Ok":
      return Effect.void
  }
}

/** The answer's text: a made-up reply, or a JSON value of the requested schema. */
const answerText = (
  model: string,
  seed: number,
  providerOptions: LanguageModel.ProviderOptions,
  promptHash: number
): Either.Either<string, AiError.MalformedOutput> => {
  const format = providerOptions.responseFormat
  if (format.type !== "json") return Either.right(plainText(model, seed, providerOptions.prompt, seededRandom(promptHash)))
  return Either.mapLeft(
    structuredText(format.schema, (promptHash ^ fnv1a(format.objectName)) | 0),
    (problem) =>
      new AiError.MalformedOutput({
        module: "LlmSimulated",
        method: "generateText",
        description: `simulated provider cannot produce ${format.objectName}: ${problem}`
      })
  )
}

/** Whether the model may call tools: some are offered for a text answer, and the caller did not say "none". */
const callsTools = (providerOptions: LanguageModel.ProviderOptions): boolean =>
  providerOptions.tools.length > 0 && providerOptions.toolChoice !== "none" && providerOptions.responseFormat.type === "text"

/** A streamed answer's chunks: a few words each, as providers send tokens in small groups. */
export const chunksOf = (text: string): ReadonlyArray<string> => {
  const words = text.match(/\S+\s*|\s+/g) ?? []
  const out: Array<string> = []
  for (let i = 0; i < words.length; i += 3) out.push(words.slice(i, i + 3).join(""))
  return out.length === 0 ? [text] : out
}

/**
 * The wait before each of `count` chunks of an answer taking `latencyMs`: a third before the first
 * (the provider reading the prompt), the rest spread evenly over the others.
 */
export const chunkTimes = (latencyMs: number, count: number): ReadonlyArray<number> => {
  const first = count <= 1 ? latencyMs : Math.round(latencyMs / 3)
  const gap = count <= 1 ? 0 : (latencyMs - first) / (count - 1)
  return Array.from({ length: count }, (_, i) => (i === 0 ? first : Math.round(gap * i) - Math.round(gap * (i - 1))))
}

/** Builds the simulated `LanguageModel`. Needs nothing: no network, no key. */
export const make = (options: Options): Effect.Effect<LanguageModel.Service> =>
  Effect.suspend(() => {
    const model = modelId(options.model)
    const seed = options.seed | 0
    const nextOutcome = makeDraw(options)
    const hangMs = options.hangMs ?? 600_000
    const deadline = options.deadline
    let callCount = 0

    // `streamed`: the answer's latency is spent by its stream, chunk by chunk, and the resilient
    // layer keeps a stream's time (to first token, then between parts).
    const answer = (providerOptions: LanguageModel.ProviderOptions, streamed = false) =>
      Effect.gen(function*() {
        // Drawn before any wait, so concurrent calls take their outcomes in arrival order.
        const outcome = nextOutcome()
        const call = ++callCount
        // The simulation knows how long the call will take: past the deadline, it ends there.
        const takesMs = outcome._tag === "Hang" ? hangMs : outcome.latencyMs
        if (!streamed && deadline !== undefined && takesMs > Duration.toMillis(deadline.duration)) {
          yield* wait(Duration.toMillis(deadline.duration))
          return yield* Effect.fail(deadline.exceeded("generateText"))
        }
        yield* failIfFault(model, outcome, hangMs)
        const input = promptText(providerOptions.prompt)
        const promptHash = fnv1a(input, fnv1a(`seed:${seed}`))
        const calls = callsTools(providerOptions) ? toolCalls(providerOptions.prompt, providerOptions.tools, promptHash) : []
        const text = calls.length > 0 ? "" : yield* answerText(model, seed, providerOptions, promptHash)
        const latencyMs = outcome._tag === "Ok" ? outcome.latencyMs : 0
        // A streamed answer spends its latency chunk by chunk; tool calls come in one piece.
        if (!streamed || calls.length > 0) yield* wait(latencyMs)
        const now = yield* Clock.currentTimeMillis
        const inputTokens = estimateTokens(input)
        const outputTokens = estimateTokens(text) + 10 * calls.length
        return {
          id: `sim-${seed}-${promptHash.toString(16)}-${call}`,
          latencyMs,
          text,
          calls,
          timestamp: new Date(now).toISOString(),
          usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens }
        }
      })

    const metadata = { [PROVIDER]: { provider: PROVIDER, seed } }

    return LanguageModel.make({
      generateText: (providerOptions) =>
        Effect.map(answer(providerOptions), (a): Array<Response.PartEncoded> => [
          { type: "response-metadata", id: a.id, modelId: model, timestamp: a.timestamp, metadata },
          ...(a.calls.length > 0
            ? a.calls.map((c): Response.PartEncoded => ({ type: "tool-call", id: c.id, name: c.name, params: c.params }))
            : [{ type: "text" as const, text: a.text }]),
          { type: "finish", reason: a.calls.length > 0 ? "tool-calls" : "stop", usage: a.usage, metadata }
        ]),
      streamText: (providerOptions) =>
        Stream.unwrap(Effect.map(answer(providerOptions, true), (a) => {
          if (a.calls.length > 0) {
            return Stream.fromIterable<Response.StreamPartEncoded>([
              { type: "response-metadata", id: a.id, modelId: model, timestamp: a.timestamp, metadata },
              ...a.calls.map((c): Response.StreamPartEncoded => ({ type: "tool-call", id: c.id, name: c.name, params: c.params })),
              { type: "finish", reason: "tool-calls", usage: a.usage, metadata }
            ])
          }
          const pieces = chunksOf(a.text)
          const timing = chunkTimes(a.latencyMs, pieces.length)
          const deltas = Stream.fromIterable(pieces).pipe(
            Stream.zipWithIndex,
            Stream.mapEffect(([delta, i]) =>
              Effect.as(wait(timing[i]!), { type: "text-delta", id: a.id, delta } as Response.StreamPartEncoded)
            )
          )
          const head = Stream.fromIterable<Response.StreamPartEncoded>([
            { type: "response-metadata", id: a.id, modelId: model, timestamp: a.timestamp, metadata },
            { type: "text-start", id: a.id }
          ])
          const tail = Stream.fromIterable<Response.StreamPartEncoded>([
            { type: "text-end", id: a.id },
            { type: "finish", reason: "stop", usage: a.usage, metadata }
          ])
          return Stream.concat(Stream.concat(head, deltas), tail)
        }))
    })
  })

/**
 * The `Options` of a configuration (`SIM_*` settings) for `model` (default `config.llm.model`).
 * A hang lasts twice `LLM_TIMEOUT`, so the per-attempt timeout always ends it first.
 */
export const optionsFromConfig = (config: AppConfigShape, model: string = config.llm.model): Options => ({
  model,
  seed: config.simulated.seed,
  latencyMs: config.simulated.latencyMs,
  errorRate: config.simulated.errorRate,
  rateLimitRate: config.simulated.rateLimitRate,
  hangMs: Math.max(600_000, 2 * Duration.toMillis(config.llm.timeout))
})

/** The simulated `LanguageModel` configured by `AppConfig`. */
export const layer: Layer.Layer<LanguageModel.LanguageModel, never, AppConfig> = Layer.effect(
  LanguageModel.LanguageModel,
  Effect.flatMap(AppConfig, (config) => make(optionsFromConfig(config)))
)
