/**
 * resilientStack — the production LLM stack pointed at a loopback `FakeProvider`.
 *
 * Builds exactly what `MainLayer` builds for the LLM path — `ResilientLanguageModel.layer` over the
 * real cache (memory or SQLite, chosen by `CACHE_BACKEND`), the memory rate limiter, the memory
 * circuit breaker, the PubSub event bus and the bundled pricing table — from an environment of
 * `AppConfig` variables, so tests and benchmarks exercise the same wiring as the CLI. Defaults make
 * the stack fast and deterministic for tests: OpenAI-compatible provider at the fake, key
 * `sk-secret-xyz`, a generous limiter, memory cache, 0 ms backoff (a jittered wait below 1 ms
 * floors to 0, so retries need no clock and tests may run on `TestClock`).
 */
import type { LanguageModel } from "@effect/ai"
import { Layer } from "effect"
import * as CircuitBreakerMemory from "../../src/layers/CircuitBreakerMemory.js"
import * as LlmCacheFromConfig from "../../src/layers/LlmCacheFromConfig.js"
import * as PricingTable from "../../src/layers/PricingTable.js"
import * as RateLimiterFromConfig from "../../src/layers/RateLimiterFromConfig.js"
import * as ResilientLanguageModel from "../../src/layers/ResilientLanguageModel.js"
import * as WorkflowEventsPubSub from "../../src/layers/WorkflowEventsPubSub.js"
import type { AppConfig } from "../../src/services/AppConfig.js"
import type { CircuitBreaker } from "../../src/services/CircuitBreaker.js"
import type { LlmCache } from "../../src/services/LlmCache.js"
import type { Pricing } from "../../src/services/Pricing.js"
import type { RateLimiter } from "../../src/services/RateLimiter.js"
import type { WorkflowEvents } from "../../src/services/WorkflowEvents.js"
import { testConfigLayer } from "./config.js"

/** The API key the stack sends; tests assert it never leaks. */
export const API_KEY = "sk-secret-xyz"

/** The primary model of the stack. */
export const MODEL = "fake-model"

/** Every service the stack provides (the resilient model and what it is built on). */
export type StackServices =
  | LanguageModel.LanguageModel
  | AppConfig
  | LlmCache
  | RateLimiter
  | CircuitBreaker
  | WorkflowEvents
  | Pricing

/**
 * The environment of a stack against `baseUrl` (the fake's `openaiUrl`): defaults, then `env`.
 * Any `AppConfig` variable may be overridden, e.g. `CACHE_BACKEND: "sqlite"` with a `DATA_DIR`.
 */
export const stackEnv = (
  baseUrl: string,
  env: Readonly<Record<string, string>> = {}
): Record<string, string> => ({
  LLM_PROVIDER: "openai",
  OPENAI_API_KEY: API_KEY,
  LLM_BASE_URL: baseUrl,
  LLM_MODEL: MODEL,
  LLM_TIMEOUT: "10",
  CACHE_ENABLED: "true",
  CACHE_BACKEND: "memory",
  RATE_LIMIT_ENABLED: "true",
  RATE_LIMIT_MAX_CALLS: "1000000",
  RATE_LIMIT_PERIOD: "1",
  MAX_RETRIES: "3",
  RETRY_INITIAL_WAIT: "0.001",
  RETRY_MAX_WAIT: "0.001",
  ENABLE_CIRCUIT_BREAKER: "true",
  CIRCUIT_BREAKER_FAILURE_THRESHOLD: "1000",
  CIRCUIT_BREAKER_RESET_TIMEOUT: "30",
  ...env
})

/**
 * The full resilient stack against `baseUrl`, with every service it uses exposed so a test can
 * subscribe to events or read cache stats. Scoped: the SQLite file is closed when it is released.
 */
export const layer = (
  baseUrl: string,
  env: Readonly<Record<string, string>> = {}
): Layer.Layer<StackServices> => {
  const config = testConfigLayer(stackEnv(baseUrl, env))
  const infra = Layer.mergeAll(
    LlmCacheFromConfig.layer,
    RateLimiterFromConfig.layer,
    CircuitBreakerMemory.layer,
    WorkflowEventsPubSub.layer,
    PricingTable.layerTable(PricingTable.bundled)
  ).pipe(Layer.provideMerge(config))
  return ResilientLanguageModel.layer.pipe(Layer.provideMerge(infra))
}
