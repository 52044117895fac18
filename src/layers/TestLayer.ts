/**
 * TestLayer — the whole stack in memory, for users' tests and examples.
 *
 * Same resilient `LanguageModel`, events, pricing and run history as production, but with the cache,
 * limiter, breaker and history in memory, no log files and no metrics server. The model is the
 * simulated provider (no latency, no faults) unless a test hands in its own `LanguageModel` Layer —
 * which is how a workflow is tested against scripted answers.
 */
import { LanguageModel } from "@effect/ai"
import { Either, Effect, Layer, Logger } from "effect"
import { AppConfig, decodeSettings, type RawSetting } from "../services/AppConfig.js"
import * as CircuitBreakerMemory from "./CircuitBreakerMemory.js"
import * as LlmCacheMemory from "./LlmCacheMemory.js"
import * as LlmSimulated from "./LlmSimulated.js"
import * as PricingTable from "./PricingTable.js"
import * as RateLimiterMemory from "./RateLimiterMemory.js"
import * as ResilientLanguageModel from "./ResilientLanguageModel.js"
import * as RunHistoryRecorder from "./RunHistoryRecorder.js"
import * as RunHistorySqlite from "./RunHistorySqlite.js"
import * as WorkflowEventsPubSub from "./WorkflowEventsPubSub.js"

/** Options of the test stack. */
export interface TestLayerOptions {
  /** Settings as environment variables would give them (e.g. `{ MAX_RETRIES: "0" }`). */
  readonly env?: Readonly<Record<string, string>>
  /** The provider to wrap; default the simulated provider with no latency and no faults. */
  readonly languageModel?: Layer.Layer<LanguageModel.LanguageModel>
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

/**
 * The full stack in memory: `AppConfig`, `LanguageModel` (resilient, over the given or simulated
 * provider), `WorkflowEvents`, `Pricing`, `LlmCache`, `RateLimiter`, `CircuitBreaker`, `RunHistory`.
 */
export const layer = (options: TestLayerOptions = {}) => {
  const config = configLayer(options.env ?? {})
  const infra = Layer.mergeAll(
    LlmCacheMemory.layer,
    RateLimiterMemory.layer,
    CircuitBreakerMemory.layer,
    PricingTable.layerTable(PricingTable.bundled),
    WorkflowEventsPubSub.layer
  ).pipe(Layer.provideMerge(config))
  const provider = options.languageModel
  const model = Layer.scoped(
    LanguageModel.LanguageModel,
    Effect.gen(function*() {
      const cfg = yield* AppConfig
      const base = yield* ResilientLanguageModel.optionsFromConfig(cfg).pipe(
        Effect.provide(ResilientLanguageModel.httpClientLayer)
      )
      const inner = provider === undefined
        ? undefined
        : yield* Effect.provide(LanguageModel.LanguageModel, provider)
      return yield* ResilientLanguageModel.make({
        ...base,
        makeModel: inner === undefined
          ? (ref) => LlmSimulated.make(LlmSimulated.optionsFromConfig(cfg, ref))
          : () => Effect.succeed(inner)
      })
    })
  )
  const history = RunHistoryRecorder.layer.pipe(Layer.provideMerge(RunHistorySqlite.layerMemory))
  return Layer.mergeAll(model, history).pipe(
    Layer.provideMerge(infra),
    Layer.provide(Logger.remove(Logger.defaultLogger))
  )
}
