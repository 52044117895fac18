/**
 * ResilientLanguageModel — any `LanguageModel` with the production stack around it.
 *
 * A call goes through small stages (`src/llm/`): the cache (`LlmCacheKey`, `CachedResponses`),
 * single-flight (identical requests in flight share one provider call), one bare attempt (breaker →
 * limiter → model within its deadline, `Attempt`), and only if that fails, retries as a `Schedule` (`Retry`)
 * within fallbacks across models as an `ExecutionPlan` (`Fallback`). In a budgeted run, a call the
 * cache did not answer first reserves its worst-case cost (`Reservation`). `CallTelemetry`
 * publishes the events, metrics, logs and budget tallies. Only successes enter the cache.
 *
 * The models come from a `ModelFactory`: the provider adapters (`layer`, from `AppConfig`) or your
 * own model (`around`). Failures are `LlmError`s (or the run's `BudgetExceeded`); because
 * `LanguageModel`'s interface fails with `AiError`, they travel wrapped (`toAiError`) and agents
 * unwrap them.
 */
import * as LanguageModel from "@effect/ai/LanguageModel"
import type { NonEmptyReadonlyArray } from "effect/Array"
import { Cause, Clock, Context, Duration, Effect, Layer, Option, Schema, type Scope, Stream, type Tracer } from "effect"
import * as Attempt from "../llm/Attempt.js"
import type { Call, Method } from "../llm/Call.js"
import * as CachedResponses from "../llm/CachedResponses.js"
import * as CallSpans from "../llm/CallSpans.js"
import * as CallTelemetry from "../llm/CallTelemetry.js"
import { withFallbacks } from "../llm/Fallback.js"
import * as Models from "../llm/Models.js"
import * as Reservation from "../llm/Reservation.js"
import * as Retry from "../llm/Retry.js"
import * as SingleFlight from "../llm/SingleFlight.js"
import { tracedWith } from "../internal/tracing.js"
import { AppConfig, type AppConfigShape } from "../services/AppConfig.js"
import type { BudgetExceeded } from "../services/Budget.js"
import { CircuitBreaker } from "../services/CircuitBreaker.js"
import { LlmCache } from "../services/LlmCache.js"
import { type CallOptions, encodePrompt, estimateTokens, isCacheable, makeCallKeys } from "../services/LlmCacheKey.js"
import { CachePolicy } from "../services/LlmCall.js"
import { type LlmError, MalformedResponse, toAiError } from "../services/LlmError.js"
import { ModelFactory, type ModelRef } from "../services/ModelFactory.js"
import * as ModelFactoryModule from "../services/ModelFactory.js"
import { Pricing } from "../services/Pricing.js"
import { RateLimiter } from "../services/RateLimiter.js"
import * as WorkflowContext from "../services/WorkflowContext.js"
import { WorkflowEvents } from "../services/WorkflowEvents.js"
import * as LlmProvider from "./LlmProvider.js"

/** How the stack is set up; `settingsFromConfig` reads it from `AppConfig`. */
export interface Settings {
  /** The model reference used when the agent asks for none (`LLM_MODEL`). */
  readonly model: string
  /** Tried in order after the model asked for fails (`LLM_FALLBACK_MODELS`). */
  readonly fallbackModels: ReadonlyArray<string>
  /** Per attempt (`LLM_TIMEOUT`). */
  readonly timeout: Duration.Duration
  readonly retry: Retry.RetryPolicy
  /** Whether successful responses are cached (`CACHE_ENABLED`). */
  readonly cacheEnabled: boolean
}

/** The settings `AppConfig` asks for; the retry budget is `Retry.callBudget(config)`. */
export const settingsFromConfig = (config: AppConfigShape): Settings => ({
  model: config.llm.model,
  fallbackModels: config.llm.fallbackModels,
  timeout: config.llm.timeout,
  retry: { ...Retry.policyFromConfig(config), budget: Retry.callBudget(config) },
  cacheEnabled: config.cache.enabled
})

/** The services the stack runs on (besides a `Scope`). */
export type Requirements = ModelFactory | LlmCache | RateLimiter | CircuitBreaker | WorkflowEvents | Pricing

type Response = LanguageModel.GenerateTextResponse<{}>

/** A provider call that ended: the response, the model that answered, the attempts it took. */
interface Answer {
  readonly response: Response
  readonly model: ModelRef
  readonly attempts: number
}

/** A provider call that failed, and the attempts it made on every model. */
interface Failed {
  readonly error: LlmError
  readonly attempts: number
}

/** Builds the resilient `LanguageModel` service. */
export const make = (settings: Settings): Effect.Effect<LanguageModel.Service, never, Requirements | Scope.Scope> =>
  Effect.gen(function*() {
    const cache = yield* LlmCache
    const pricing = yield* Pricing
    const models = yield* Models.make(settings.timeout)
    const breaker = yield* CircuitBreaker
    const telemetry = yield* CallTelemetry.make(yield* WorkflowEvents, breaker)
    const limiter = yield* RateLimiter
    const attempt = Attempt.make({ breaker, limiter, models, telemetry })
    const cached = CachedResponses.make(cache)
    const callKey = makeCallKeys()
    const flights = SingleFlight.make<Answer, Failed>()

    /** The models a call may be answered by: its own, then the fallbacks. */
    const chainOf = (call: Call): NonEmptyReadonlyArray<ModelRef> => [
      call.model,
      ...settings.fallbackModels.filter((ref) => ref !== call.model.ref).map(models.resolve)
    ]
    const reserve = Reservation.make(pricing, chainOf)

    /** The rest of a call whose first attempt failed: its retries on each model of its chain. */
    const recover = (call: Call, count: Attempt.Count, first: LlmError): Effect.Effect<Answer, LlmError> => {
      const chain = chainOf(call)
      const onModel = (model: ModelRef) =>
        Effect.map(
          Retry.retryLlm(attempt(call, model, count), settings.retry, {
            startedAt: call.started,
            ...(model === call.model ? { firstFailure: { error: first } } : {}),
            onRetry: (info) => telemetry.retrying(call, model, info, count.attempts)
          }),
          (response): Answer => ({ response, model, attempts: count.attempts })
        )
      return withFallbacks(chain, onModel, (from, to, error) => telemetry.fallingBack(from, to, error, count.attempts))
    }

    /** The provider's answer to a call: one bare attempt, and the retry machinery only if it fails. */
    const answer = (call: Call): Effect.Effect<Answer, Failed> => {
      const count: Attempt.Count = { attempts: 0 }
      return attempt(call, call.model, count).pipe(
        Effect.map((response): Answer => ({ response, model: call.model, attempts: count.attempts })),
        Effect.catchAll((error) => recover(call, count, error)),
        Effect.mapError((error): Failed => ({ error, attempts: count.attempts }))
      )
    }

    /** A call the cache did not answer: the provider (shared by identical calls), then the cache. */
    const miss = (call: Call, key: string, cacheable: boolean): Effect.Effect<Response, LlmError> =>
      Effect.matchCauseEffect(flights(key, answer(call)), {
        onFailure: (cause) => {
          const failed = Cause.failureOption(cause)
          const errors = Cause.map(cause, (f) => f.error)
          if (Option.isNone(failed)) return Effect.failCause(errors)
          const { attempts, error } = failed.value
          return Effect.zipRight(
            telemetry.finished(call, { model: call.model, cached: false, attempts, usage: noUsage, costUsd: 0, error }),
            Effect.failCause(errors)
          )
        },
        onSuccess: ({ attempts, model, response }) => {
          const usage = CallTelemetry.usageOf(response)
          return Effect.flatMap(
            pricing.cost(model.label, usage, { providerCostUsd: CallTelemetry.providerCost(response) }),
            (costUsd) => {
              const done = telemetry.finished(call, { model, cached: false, attempts, usage, costUsd, error: undefined })
              return Effect.as(cacheable ? Effect.zipRight(done, cached.write(key, response)) : done, response)
            }
          )
        }
      })

    /** The whole call. The fiber's context, cache policy and clock are read once, at the start. */
    const perform = (
      method: Method,
      options: CallOptions,
      ask: Call["ask"],
      span: Tracer.Span | undefined
    ): Effect.Effect<Response, LlmError | BudgetExceeded> =>
      Effect.withFiberRuntime((fiber) => {
        const ctx = fiber.getFiberRef(WorkflowContext.ref)
        const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
        const policy = Context.get(fiber.currentContext, CachePolicy)
        const model = models.resolve(ctx.model ?? settings.model)
        // Encoded at most once, and only if needed: a key from the memo and a cache hit need none.
        let encoded: unknown
        const encode = () => (encoded ??= encodePrompt(options.prompt))
        const call: Call = { method, options, ask, ctx, clock, started: clock.unsafeCurrentTimeMillis(), model, tokens: 0, span }
        if (span !== undefined) CallSpans.callStarted(span, call)
        const cacheable = settings.cacheEnabled && isCacheable(options) && policy !== "bypass"
        const key = callKey(options, model, ctx.settings, encode)
        const provider = () => {
          const sized: Call = { ...call, tokens: estimateTokens(encode()) }
          return reserve(sized, miss(sized, key, cacheable))
        }
        const response = !(cacheable && policy === "use") ? provider() : Effect.flatMap(cached.read(key), (hit) =>
          Option.isNone(hit) ? provider() : Effect.as(
            telemetry.finished(call, {
              model,
              cached: true,
              attempts: 0,
              usage: CallTelemetry.usageOf(hit.value),
              costUsd: 0,
              error: undefined
            }),
            hit.value
          ))
        return method === "generateObject" ? Effect.flatMap(response, (r) => asObject(options, r, model)) : response
      })

    // Streams are not cached or retried (a partial stream cannot be replayed); they still take a
    // permit of the model's limiter.
    const stream = (options: CallOptions): Effect.Effect<Stream.Stream<unknown, unknown>> =>
      Effect.gen(function*() {
        const ctx = yield* WorkflowContext.current
        const model = models.resolve(ctx.model ?? settings.model)
        yield* limiter.acquire(model.key, { requests: 1, tokens: estimateTokens(encodePrompt(options.prompt)) })
        const inner = yield* models.get(model)
        return (inner.streamText as unknown as (options: CallOptions) => Stream.Stream<unknown, unknown>)(options)
      })
    return serviceOf(perform, stream)
  })

/** The structured value of a response (a cache hit stores only the parts). */
const asObject = (options: CallOptions, response: Response, model: ModelRef): Effect.Effect<Response, LlmError> =>
  response instanceof LanguageModel.GenerateObjectResponse || options.schema === undefined
    ? Effect.succeed(response)
    : Schema.decodeUnknown(Schema.parseJson(options.schema as Schema.Schema<unknown>))(response.text).pipe(
      Effect.map((value) => new LanguageModel.GenerateObjectResponse(value, response.content)),
      Effect.mapError((error) =>
        new MalformedResponse({ provider: model.provider, model: model.label, raw: response.text, detail: error.message })
      )
    )

/**
 * The `LanguageModel` service over `perform` and `stream`. Its methods are generic over the
 * caller's options; these take them as `CallOptions` and hand them to the wrapped model unchanged.
 */
const serviceOf = (
  perform: (
    method: Method,
    options: CallOptions,
    ask: Call["ask"],
    span: Tracer.Span | undefined
  ) => Effect.Effect<Response, LlmError | BudgetExceeded>,
  stream: (options: CallOptions) => Effect.Effect<Stream.Stream<unknown, unknown>>
): LanguageModel.Service => {
  type Generate = (options: CallOptions) => Effect.Effect<Response, unknown>
  const generate = (method: Method) => {
    const name = `LanguageModel.${method}`
    const ask = (options: CallOptions) => (m: LanguageModel.Service) => (m[method] as unknown as Generate)(options)
    // The span ends with the call's own error (its tag on the span), wrapped for the caller after.
    return (options: CallOptions) =>
      Effect.mapError(
        tracedWith(name, undefined, (span) => perform(method, options, ask(options), span)),
        (e) => toAiError(e, method)
      )
  }
  return {
    generateText: generate("generateText") as unknown as LanguageModel.Service["generateText"],
    generateObject: generate("generateObject") as unknown as LanguageModel.Service["generateObject"],
    streamText: ((options: CallOptions) => Stream.unwrap(stream(options))) as unknown as LanguageModel.Service["streamText"]
  }
}

const noUsage = { inputTokens: 0, outputTokens: 0 }

/** The stack with explicit settings, around the models of the `ModelFactory` in context. */
export const layerWith = (settings: Settings): Layer.Layer<LanguageModel.LanguageModel, never, Requirements> =>
  Layer.scoped(LanguageModel.LanguageModel, make(settings))

// A new Layer value per use: Layers are shared by identity within a build, and two stacks around
// different models must not be the same instance.
const fromConfig = (): Layer.Layer<LanguageModel.LanguageModel, never, AppConfig | Requirements> =>
  Layer.scoped(LanguageModel.LanguageModel, Effect.flatMap(AppConfig, (config) => make(settingsFromConfig(config))))

/** The stack set up from `AppConfig`, around the models of the `ModelFactory` in context. */
export const layerFromConfig: Layer.Layer<LanguageModel.LanguageModel, never, AppConfig | Requirements> = fromConfig()

/**
 * The stack around your own model, recorded as `name`: provide the model below it.
 *
 * ```ts
 * ResilientLanguageModel.around("my-llama").pipe(Layer.provide(myLanguageModelLayer))
 * ```
 */
export const around = (
  name: string,
  options: { readonly provider?: string } = {}
): Layer.Layer<LanguageModel.LanguageModel, never, LanguageModel.LanguageModel | AppConfig | Exclude<Requirements, ModelFactory>> =>
  fromConfig().pipe(Layer.provide(ModelFactoryModule.layerModel(name, options)))

/** The stack over the configured providers (`LLM_PROVIDER`, undici HTTP client included). */
export const layer: Layer.Layer<LanguageModel.LanguageModel, never, AppConfig | Exclude<Requirements, ModelFactory>> =
  fromConfig().pipe(Layer.provide(LlmProvider.factoryLayer))

/** @deprecated Moved: `Retry.callBudget`. */
export const callBudget = Retry.callBudget
