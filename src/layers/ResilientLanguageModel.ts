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
import { Cause, Clock, Context, Duration, Effect, Layer, Option, Schema, type Scope, Stream } from "effect"
import * as Attempt from "../llm/Attempt.js"
import type { Call, Method } from "../llm/Call.js"
import * as CachedResponses from "../llm/CachedResponses.js"
import * as CallSpans from "../llm/CallSpans.js"
import * as CallTelemetry from "../llm/CallTelemetry.js"
import * as Models from "../llm/Models.js"
import * as Recovery from "../llm/Recovery.js"
import * as Reservation from "../llm/Reservation.js"
import * as Retry from "../llm/Retry.js"
import * as SingleFlight from "../llm/SingleFlight.js"
import * as StreamCall from "../llm/StreamCall.js"
import { tracedIn } from "../internal/tracing.js"
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
  /** Per attempt (`LLM_TIMEOUT`); a stream's time to first token. */
  readonly timeout: Duration.Duration
  /** Longest gap between a stream's parts after its first token (`LLM_STREAM_IDLE_TIMEOUT`). */
  readonly streamIdleTimeout: Duration.Duration
  readonly retry: Retry.RetryPolicy
  /** Whether successful responses are cached (`CACHE_ENABLED`). */
  readonly cacheEnabled: boolean
}

/** The settings `AppConfig` asks for; the retry budget is `Retry.callBudget(config)`. */
export const settingsFromConfig = (config: AppConfigShape): Settings => ({
  model: config.llm.model,
  fallbackModels: config.llm.fallbackModels,
  timeout: config.llm.timeout,
  streamIdleTimeout: config.llm.streamIdleTimeout,
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
    const events = yield* WorkflowEvents
    const telemetry = yield* CallTelemetry.make(events, breaker)
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

    const recoverWith = Recovery.make(settings.retry, telemetry, chainOf)
    const recover = recoverWith(attempt)

    /** The provider's answer to a call: one bare attempt, and the retry machinery only if it fails. */
    const answer = (call: Call): Effect.Effect<Answer, Failed> => {
      const count: Attempt.Count = { attempts: 0 }
      const failed = (error: LlmError): Failed => ({ error, attempts: count.attempts })
      // One step when the first attempt answers (the usual case); the failure path as `catchAll` would take it.
      return Effect.matchCauseEffect(attempt(call, call.model, count), {
        onSuccess: (response) => Effect.succeed<Answer>({ response, model: call.model, attempts: count.attempts }),
        onFailure: (cause) =>
          Effect.failCause(cause).pipe(
            Effect.catchAll((error) =>
              Effect.map(recover(call, count, error), ({ model, value }): Answer => ({ response: value, model, attempts: count.attempts }))
            ),
            Effect.mapError(failed)
          )
      })
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

    /**
     * The whole call, in its span when spans are exported. The fiber's context, cache policy and
     * clock are read once, at the start.
     */
    const perform = (
      method: Method,
      options: CallOptions,
      ask: Call["ask"]
    ): Effect.Effect<Response, LlmError | BudgetExceeded> =>
      Effect.withFiberRuntime((fiber) => {
        const ctx = fiber.getFiberRef(WorkflowContext.ref)
        const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
        const policy = Context.get(fiber.currentContext, CachePolicy)
        const model = models.resolve(ctx.model ?? settings.model)
        // The span ends with the call's own error (its tag on the span), wrapped for the caller after.
        return tracedIn(fiber, spanNames[method], undefined, (span) => {
          // Encoded at most once, and only if needed: a key from the memo and a cache hit need none.
          let encoded: unknown
          const encode = () => (encoded ??= encodePrompt(options.prompt))
          const started = clock.unsafeCurrentTimeMillis()
          const call: Call = { method, options, ask, ctx, clock, started, model, tokens: 0, span }
          if (span !== undefined) CallSpans.callStarted(span, call)
          const cacheable = settings.cacheEnabled && isCacheable(options) && policy !== "bypass"
          const key = callKey(options, model, ctx.settings, encode)
          const provider = () => {
            // A literal, not a spread: spreading this shape is V8's slow path, on every miss.
            const sized: Call = { method, options, ask, ctx, clock, started, model, tokens: estimateTokens(encode()), span }
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
      })

    const streamed = StreamCall.make({
      breaker,
      limiter,
      models,
      telemetry,
      cached,
      pricing,
      events,
      reserve: reserve.scoped,
      recoverWith,
      firstToken: settings.timeout,
      idle: settings.streamIdleTimeout,
      deltaIntervalMs: DELTA_INTERVAL_MS
    })
    /**
     * A streamed call: its context, cache policy and clock read as it starts, like `perform`'s
     * (inside the stream's own setup: no stream stage of its own, which each part would cross).
     */
    const stream = (options: CallOptions): Stream.Stream<StreamCall.Part, LlmError | BudgetExceeded> =>
      streamed(Effect.withFiberRuntime((fiber) => {
        const ctx = fiber.getFiberRef(WorkflowContext.ref)
        const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
        const policy = Context.get(fiber.currentContext, CachePolicy)
        const model = models.resolve(ctx.model ?? settings.model)
        const encoded = encodePrompt(options.prompt)
        // `ask` is the same question asked at once; the stream path itself never uses it.
        const call: Call = {
          method: "generateText",
          options,
          ask: (m) => (m.generateText as unknown as (o: CallOptions) => Effect.Effect<Response, unknown>)(options),
          ctx,
          clock,
          started: clock.unsafeCurrentTimeMillis(),
          model,
          tokens: estimateTokens(encoded),
          span: undefined
        }
        const cacheable = settings.cacheEnabled && isCacheable(options) && policy !== "bypass"
        const key = callKey(options, model, ctx.settings, () => encoded)
        return Effect.succeed({ call, key, cacheable, read: cacheable && policy === "use" })
      }))
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
  perform: (method: Method, options: CallOptions, ask: Call["ask"]) => Effect.Effect<Response, LlmError | BudgetExceeded>,
  stream: (options: CallOptions) => Stream.Stream<StreamCall.Part, LlmError | BudgetExceeded>
): LanguageModel.Service => {
  type Generate = (options: CallOptions) => Effect.Effect<Response, unknown>
  const generate = (method: Method) => {
    const ask = (options: CallOptions) => (m: LanguageModel.Service) => (m[method] as unknown as Generate)(options)
    const wrap = (e: LlmError | BudgetExceeded) => toAiError(e, method)
    return (options: CallOptions) => Effect.mapError(perform(method, options, ask(options)), wrap)
  }
  return {
    generateText: generate("generateText") as unknown as LanguageModel.Service["generateText"],
    generateObject: generate("generateObject") as unknown as LanguageModel.Service["generateObject"],
    streamText: ((options: CallOptions) =>
      Stream.mapError(stream(options), (e) => toAiError(e, "streamText"))) as unknown as LanguageModel.Service["streamText"]
  }
}

const noUsage = { inputTokens: 0, outputTokens: 0 }

const spanNames: Record<Method, string> = {
  generateText: "LanguageModel.generateText",
  generateObject: "LanguageModel.generateObject"
}

/** At most ten `AnswerDelta`s a second per streamed call: the dashboard draws no faster. */
const DELTA_INTERVAL_MS = 100

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
