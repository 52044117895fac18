/**
 * MainLayer — the production wiring: every service built from `AppConfig`.
 *
 * AppConfig (env + .env) → logging → telemetry → cache, limiter, breaker, pricing, events →
 * the provider wrapped by the resilient layer → run history and its recorder, and trace export
 * when an OTLP endpoint is set. The CLI provides this once; tests build their own from the same
 * pieces (`TestLayer.ts`).
 */
import type { LanguageModel } from "@effect/ai"
import type { FileSystem } from "@effect/platform"
import { Layer } from "effect"
import type { AppConfig, InvalidConfig } from "../services/AppConfig.js"
import type { CircuitBreaker } from "../services/CircuitBreaker.js"
import type { LlmCache } from "../services/LlmCache.js"
import type { LogTail } from "../services/LogTail.js"
import type { Pricing, PricingFileError } from "../services/Pricing.js"
import type { RateLimiter } from "../services/RateLimiter.js"
import type { HistoryRecorder, RunHistory, RunHistoryError } from "../services/RunHistory.js"
import type { WorkflowEvents } from "../services/WorkflowEvents.js"
import * as AppConfigEnv from "./AppConfigEnv.js"
import * as CircuitBreakerMemory from "./CircuitBreakerMemory.js"
import * as LlmCacheFromConfig from "./LlmCacheFromConfig.js"
import * as Logging from "./Logging.js"
import * as PricingTable from "./PricingTable.js"
import * as RateLimiterFromConfig from "./RateLimiterFromConfig.js"
import * as ResilientLanguageModel from "./ResilientLanguageModel.js"
import * as RunHistoryFromConfig from "./RunHistoryFromConfig.js"
import * as RunHistoryRecorder from "./RunHistoryRecorder.js"
import type { MetricsServerError } from "./Telemetry.js"
import * as Telemetry from "./Telemetry.js"
import * as Tracing from "./Tracing.js"
import * as WorkflowEventsPubSub from "./WorkflowEventsPubSub.js"

/** How the process uses the terminal. */
export interface MainOptions {
  /** Whether stdout is a terminal (picks the default LOG_FORMAT). */
  readonly isTty: boolean
  /** Log to stderr too; off while the dashboard owns the terminal. */
  readonly console: boolean
  /** ANSI colours in console logs (a TTY without NO_COLOR). */
  readonly color: boolean
  /** Path of the dotenv file (default `.env`). */
  readonly dotenvPath?: string
}

/** Everything the CLI, the dashboard and the API use. */
export type Services =
  | AppConfig
  | LogTail
  | LlmCache
  | RateLimiter
  | CircuitBreaker
  | Pricing
  | WorkflowEvents
  | RunHistory
  | HistoryRecorder
  | LanguageModel.LanguageModel

/** Why the services could not start: each carries a message for the user (exit 2). */
export type StartupError = InvalidConfig | MetricsServerError | PricingFileError | RunHistoryError

/** Services that need only the configuration (no history, no provider). */
export const layerInfra = (options: MainOptions) => {
  const config = AppConfigEnv.layer({ isTty: options.isTty, ...(options.dotenvPath === undefined ? {} : { dotenvPath: options.dotenvPath }) })
  // Logging first and in sequence (not merged), so its logger is in place for everything after it.
  const logging = Logging.layer({ console: options.console, color: options.color })
  const resources = Layer.mergeAll(
    Telemetry.layer,
    LlmCacheFromConfig.layer,
    RateLimiterFromConfig.layer,
    CircuitBreakerMemory.layer,
    PricingTable.layer,
    WorkflowEventsPubSub.layer
  )
  return resources.pipe(Layer.provideMerge(logging), Layer.provideMerge(config))
}

/** The full production stack. */
export const layer = (
  options: MainOptions
): Layer.Layer<Services, StartupError, FileSystem.FileSystem> => {
  const history = RunHistoryRecorder.layer.pipe(Layer.provideMerge(RunHistoryFromConfig.layer))
  // The tracer is set beside the other services, not below them: what they do in the background
  // (the history's migrations and writes) is not traced, only what the program runs.
  return Layer.mergeAll(ResilientLanguageModel.layer, history, Tracing.layer).pipe(Layer.provideMerge(layerInfra(options)))
}
