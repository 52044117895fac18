/**
 * TestLayer — the whole stack in memory, for users' tests and examples.
 *
 * Same resilient `LanguageModel`, events, pricing and run history as production, but with the cache,
 * limiter, breaker and history in memory, no log files and no metrics server. The model is the
 * simulated provider (no latency, no faults) unless a test hands in its own `LanguageModel` Layer —
 * which is how a workflow is tested against scripted answers (`ScriptedModel`).
 *
 * Retries are instant by default: the same attempts, events and metrics, but no backoff and no
 * `Retry-After` wait, so a retry test runs in milliseconds on the `TestClock` without moving it.
 * `retry: "real"` keeps the configured waits (`RETRY_*` in `env`) for tests about the waits.
 */
import * as LanguageModel from "@effect/ai/LanguageModel"
import { Context, Duration, Either, Effect, Layer, Logger, type Scope } from "effect"
import { AppConfig, decodeSettings, type RawSetting } from "../services/AppConfig.js"
import type { CircuitBreaker } from "../services/CircuitBreaker.js"
import type { LlmCache } from "../services/LlmCache.js"
import { ModelFactory, type ModelFactoryService, withDeadline } from "../services/ModelFactory.js"
import type { Pricing } from "../services/Pricing.js"
import * as RateLimiter from "../services/RateLimiter.js"
import type { HistoryRecorder, RunHistory, RunHistoryError } from "../services/RunHistory.js"
import type { WorkflowEvents } from "../services/WorkflowEvents.js"
import type * as Retry from "../llm/Retry.js"
import * as CircuitBreakerMemory from "./CircuitBreakerMemory.js"
import * as LlmCacheMemory from "./LlmCacheMemory.js"
import * as LlmProvider from "./LlmProvider.js"
import * as PricingTable from "./PricingTable.js"
import * as RateLimiterMemory from "./RateLimiterMemory.js"
import * as ResilientLanguageModel from "./ResilientLanguageModel.js"
import * as RunHistoryRecorder from "./RunHistoryRecorder.js"
import * as RunHistorySqlite from "./RunHistorySqlite.js"
import * as WorkflowEventsPubSub from "./WorkflowEventsPubSub.js"

/** Options of the test stack. */
export interface TestLayerOptions<Extra = never> {
  /** Settings as environment variables would give them (e.g. `{ MAX_RETRIES: "0" }`). */
  readonly env?: Readonly<Record<string, string>>
  /**
   * The provider to wrap; default the simulated provider with no latency and no faults. Whatever
   * else the Layer provides (`ScriptedModel.Script`) reaches the test too.
   */
  readonly languageModel?: Layer.Layer<LanguageModel.LanguageModel | Extra>
  /**
   * `"instant"` (default): a retry happens at once — backoffs and `Retry-After` waits are zero and
   * a 429 does not pause the rate limiter — so a test needs no `TestClock.adjust`. `"real"`: the
   * waits of `RETRY_INITIAL_WAIT`, `RETRY_MAX_WAIT` and `Retry-After`, on the `Clock`.
   */
  readonly retry?: "instant" | "real"
}

const quietSimulation: Readonly<Record<string, string>> = {
  SIM_LATENCY_MS: "0",
  SIM_ERROR_RATE: "0",
  SIM_RATE_LIMIT_RATE: "0",
  CACHE_BACKEND: "memory"
}

/** `AppConfig` from these variables, decoded by the real decoder; invalid settings are a defect. */
export const configLayer = (env: Readonly<Record<string, string>>): Layer.Layer<AppConfig> =>
  Layer.effect(
    AppConfig,
    Effect.suspend(() => {
      const raw: Record<string, RawSetting> = {}
      for (const [key, value] of Object.entries({ ...quietSimulation, ...env })) raw[key] = { value, source: "env" }
      const decoded = decodeSettings(raw, { isTty: false })
      return Either.isRight(decoded) ? Effect.succeed(decoded.right.config) : Effect.die(decoded.left)
    })
  )

/** Retries with no wait at all, whatever the configuration says. */
const instantPolicy = (policy: Retry.RetryPolicy): Retry.RetryPolicy => ({
  ...policy,
  initialWait: Duration.zero,
  maxWait: Duration.zero,
  maxRetryAfter: Duration.zero
})

/** The memory limiter, where a 429's `Retry-After` pauses nobody (instant retries). */
const limiterIgnoringRetryAfter: Layer.Layer<RateLimiter.RateLimiter, never, AppConfig> = Layer.effect(
  RateLimiter.RateLimiter,
  Effect.map(RateLimiterMemory.make, (limiter): RateLimiter.RateLimiterService => ({
    acquire: limiter.acquire,
    feedback: () => Effect.void,
    waiting: limiter.waiting
  }))
)

/** What the test stack provides, besides whatever else the provider Layer offers. */
export type Services =
  | LanguageModel.LanguageModel
  | AppConfig
  | WorkflowEvents
  | Pricing
  | LlmCache
  | RateLimiter.RateLimiter
  | CircuitBreaker
  | RunHistory
  | HistoryRecorder

/** The resilient model over `inner`, or over the simulated provider when there is none. */
const resilientModel = (instant: boolean, inner: LanguageModel.Service | undefined) =>
  Effect.gen(function*() {
    const cfg = yield* AppConfig
    const settings = ResilientLanguageModel.settingsFromConfig(cfg)
    // References resolve and are labelled as in production; a given model answers all of them.
    const providers = yield* LlmProvider.factory(cfg).pipe(Effect.provide(LlmProvider.layerHttpClient))
    const factory: ModelFactoryService = inner === undefined
      ? providers
      : { ...providers, make: (_, deadline) => Effect.succeed(withDeadline(inner, deadline)) }
    return yield* ResilientLanguageModel.make({
      ...settings,
      retry: instant ? instantPolicy(settings.retry) : settings.retry
    }).pipe(Effect.provideService(ModelFactory, factory))
  })

type ModelNeeds = Exclude<Effect.Effect.Context<ReturnType<typeof resilientModel>>, Scope.Scope>

/** Everything in memory around `model`. */
const stack = <ROut>(model: Layer.Layer<ROut, never, ModelNeeds>, env: Readonly<Record<string, string>>, instant: boolean) => {
  const infra = Layer.mergeAll(
    LlmCacheMemory.layer,
    instant ? limiterIgnoringRetryAfter : RateLimiterMemory.layer,
    CircuitBreakerMemory.layer,
    PricingTable.layerTable(PricingTable.bundled),
    WorkflowEventsPubSub.layer
  ).pipe(Layer.provideMerge(configLayer(env)))
  const history = RunHistoryRecorder.layer.pipe(Layer.provideMerge(RunHistorySqlite.layerMemory))
  return Layer.mergeAll(model, history).pipe(
    Layer.provideMerge(infra),
    Layer.provide(Logger.remove(Logger.defaultLogger))
  )
}

/**
 * The full stack in memory: `AppConfig`, `LanguageModel` (resilient, over the given or simulated
 * provider), `WorkflowEvents`, `Pricing`, `LlmCache`, `RateLimiter`, `CircuitBreaker`, `RunHistory`
 * (with its recorder), and whatever else the given provider Layer offers (`ScriptedModel.Script`).
 */
export function layer<Extra>(
  options: TestLayerOptions<Extra> & { readonly languageModel: Layer.Layer<LanguageModel.LanguageModel | Extra> }
): Layer.Layer<Services | Extra, RunHistoryError>
export function layer<Extra = never>(options?: TestLayerOptions<Extra>): Layer.Layer<Services, RunHistoryError>
export function layer<Extra>(
  options: TestLayerOptions<Extra> = {}
): Layer.Layer<Services, RunHistoryError> | Layer.Layer<Services | Extra, RunHistoryError> {
  const env = options.env ?? {}
  const instant = options.retry !== "real"
  const provider = options.languageModel
  if (provider === undefined) {
    return stack(Layer.scoped(LanguageModel.LanguageModel, resilientModel(instant, undefined)), env, instant)
  }
  // The provider's whole context, its `LanguageModel` replaced by the resilient one around it.
  const model = Layer.scopedContext(Effect.gen(function*() {
    const built = yield* Layer.build(provider)
    const resilient = yield* resilientModel(instant, Context.get(built, LanguageModel.LanguageModel))
    return Context.add(built, LanguageModel.LanguageModel, resilient)
  }))
  return stack(model, env, instant)
}
