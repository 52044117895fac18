/**
 * RateLimiter — permits for LLM calls, per `provider:model` key.
 *
 * A key has a token bucket of `RATE_LIMIT_MAX_CALLS` requests per `RATE_LIMIT_PERIOD` and, when
 * `RATE_LIMIT_MAX_TOKENS` is set, a second bucket of tokens per period. Waiters are served in
 * arrival order, and a 429's `Retry-After` pauses the key for everyone until it has passed.
 *
 * This module is the port: the tag, the service interface, the limits, the errors. The algorithm
 * and its stores are backends: `layers/RateLimiterLanes.ts` (shared by both backends),
 * `layers/RateLimiterMemory.ts`, `layers/RateLimiterRedis.ts`; `layers/PassThrough.ts` has the
 * limiter of `RATE_LIMIT_ENABLED=false`.
 */
import { Context, type Duration, Effect, Schema } from "effect"
import type { AppConfigShape } from "./AppConfig.js"

/** What one call asks for: requests (default 1) and its estimated tokens (default 0). */
export interface Cost {
  readonly requests?: number
  readonly tokens?: number
}

/** The rate limiter as the LLM layer sees it. */
export interface RateLimiterService {
  /**
   * Waits until `key` grants a permit for `cost`, in arrival order, and returns how long it
   * waited (also recorded in `rate_limiter_wait_seconds{key}`). Never fails: a backend fault
   * grants the permit and logs a warning, so a dead Redis slows nothing down.
   */
  readonly acquire: (key: string, cost: Cost) => Effect.Effect<Duration.Duration>
  /** A 429 said `Retry-After: retryAfter`: nobody gets a permit for `key` until then. */
  readonly feedback: (key: string, retryAfter: Duration.Duration) => Effect.Effect<void>
  /** Callers waiting for a permit now, in this process (for the dashboard). */
  readonly waiting: Effect.Effect<number>
}

/** The service tag: `yield* RateLimiter` gives the limiter. */
export class RateLimiter extends Context.Tag("effect-agents/RateLimiter")<RateLimiter, RateLimiterService>() {}

/** Accessor: `yield* RateLimiter.acquire(key, { tokens })`. */
export const acquire = Effect.serviceFunctionEffect(RateLimiter, (s) => s.acquire)
/** Accessor: `yield* RateLimiter.feedback(key, retryAfter)`. */
export const feedback = Effect.serviceFunctionEffect(RateLimiter, (s) => s.feedback)
/** Accessor: callers waiting now. */
export const waiting: Effect.Effect<number, never, RateLimiter> = Effect.flatMap(RateLimiter, (s) => s.waiting)

/** The limiter (and breaker) key of a provider and model: `provider:model`. */
export const keyOf = (provider: string, model: string): string => `${provider}:${model}`

/** The limits a backend enforces, usually `limitsFromConfig(config)`. */
export interface Limits {
  readonly enabled: boolean
  readonly maxCalls: number
  readonly period: Duration.Duration
  readonly maxTokens?: number
}

/** The limits of `RATE_LIMIT_*`. */
export const limitsFromConfig = (config: AppConfigShape): Limits => ({
  enabled: config.rateLimit.enabled,
  maxCalls: config.rateLimit.maxCalls,
  period: config.rateLimit.period,
  ...(config.rateLimit.maxTokens._tag === "Some" ? { maxTokens: config.rateLimit.maxTokens.value } : {})
})

/** A limiter backend could not be reached or answered nonsense. */
export class RateLimiterBackendError extends Schema.TaggedError<RateLimiterBackendError>()(
  "RateLimiterBackendError",
  {
    backend: Schema.String,
    operation: Schema.String,
    reason: Schema.String,
    cause: Schema.optional(Schema.Defect)
  }
) {
  override get message(): string {
    return `rate limiter backend ${this.backend} failed to ${this.operation}: ${this.reason}`
  }
}

/** Every error of this module. */
export type RateLimiterError = RateLimiterBackendError
