/**
 * CircuitBreaker — stop calling a provider+model that keeps failing, and probe it now and then.
 *
 * One circuit per key (`provider:model`, see `RateLimiter.keyOf`). Closed: calls run, and
 * `CIRCUIT_BREAKER_FAILURE_THRESHOLD` consecutive provider failures open it. Open: calls fail at
 * once with `CircuitOpen { breaker, retryAt }` without running. After
 * `CIRCUIT_BREAKER_RESET_TIMEOUT` the next call is the one probe (half-open; callers during the
 * probe fail fast); its success closes the circuit, its failure opens it again for another timeout.
 * Only failures `isFailure` accepts count (by default the retryable `LlmError`s); others neither
 * count nor reset the count while closed, and close the circuit when the probe gets one (the
 * provider answered). Interruptions and defects say nothing about the provider: they never count,
 * and an interrupted probe hands the probe on to the next caller at once. Every transition updates `circuit_breaker_state{breaker}` and is published on `changes`.
 */
import { Context, Effect, type Stream } from "effect"
import { type CircuitOpen, countsAsProviderFailure, isRetryableError, type LlmError } from "./LlmError.js"

/** Where a circuit is. */
export type BreakerState = "closed" | "half-open" | "open"

/** One transition of one circuit; `retryAt` (epoch ms) when it opened. */
export interface BreakerChange {
  readonly breaker: string
  readonly from: BreakerState
  readonly to: BreakerState
  readonly retryAt?: number
}

/** Per-call options of `withBreaker`. */
export interface BreakerOptions<E> {
  /**
   * Which failures count against the circuit; default: the retryable `LlmError`s (429, 5xx,
   * timeouts, connection failures), so a bad request or a wrong key never opens it.
   */
  readonly isFailure?: (error: E) => boolean
}

/** The circuit breaker as the LLM layer sees it. */
export interface CircuitBreakerService {
  /** Runs `effect` through `key`'s circuit, or fails with `CircuitOpen` without running it. */
  readonly withBreaker: <A, E, R>(
    key: string,
    effect: Effect.Effect<A, E, R>,
    options?: BreakerOptions<E>
  ) => Effect.Effect<A, E | CircuitOpen, R>
  /** The state of `key`'s circuit ("closed" for a key never used). */
  readonly state: (key: string) => Effect.Effect<BreakerState>
  /** Transitions from the moment the stream is run (for the dashboard and the event log). */
  readonly changes: Stream.Stream<BreakerChange>
}

/** The service tag: `yield* CircuitBreaker` gives the breaker. */
export class CircuitBreaker extends Context.Tag("effect-agents/CircuitBreaker")<
  CircuitBreaker,
  CircuitBreakerService
>() {}

/** Accessor: `yield* CircuitBreaker.withBreaker(key, call)`. */
export const withBreaker = <A, E, R>(
  key: string,
  effect: Effect.Effect<A, E, R>,
  options?: BreakerOptions<E>
): Effect.Effect<A, E | CircuitOpen, R | CircuitBreaker> =>
  Effect.flatMap(CircuitBreaker, (breaker) => breaker.withBreaker(key, effect, options))

/** Accessor: the state of `key`'s circuit. */
export const state = Effect.serviceFunctionEffect(CircuitBreaker, (s) => s.state)

/** The value of `circuit_breaker_state` for a state: 0 closed, 1 half-open, 2 open. */
export const gaugeValue = (state: BreakerState): number =>
  state === "closed" ? 0 : state === "half-open" ? 1 : 2

/**
 * The default `isFailure`: failures the provider, not the request, is to blame for — 5xx, 408,
 * timeouts, connection failures; not 429 (see `LlmError.countsAsProviderFailure`).
 */
export const countsAsFailure = (error: unknown): boolean =>
  isRetryableError(error) && countsAsProviderFailure(error as LlmError)
