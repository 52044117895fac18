/**
 * Retry — when and how long to wait before trying an LLM call again.
 *
 * Only failures the provider is to blame for are retried (429, 408, 5xx, timeouts, dropped
 * connections; `LlmError.isRetryable`); a bad request, a wrong key, a schema failure or an open
 * circuit ends the call at once. Waits grow exponentially from `RETRY_INITIAL_WAIT`, doubled per
 * retry and capped at `RETRY_MAX_WAIT`, with full jitter ("Exponential Backoff And Jitter", AWS
 * Architecture Blog): a random wait in [0, min(cap, initial·2^n)], drawn from Effect's `Random` so a
 * test can seed it. A 429's `Retry-After` replaces the backoff, even beyond the cap, up to
 * `maxRetryAfter`; if it would overrun the call's time budget the call fails with
 * `RetryBudgetExceeded` rather than sleeping in vain.
 */
import { Clock, Duration, Effect, Option, Random, Schedule } from "effect"
import type { AppConfigShape } from "../services/AppConfig.js"
import { isRetryableError, RetryBudgetExceeded } from "../services/LlmError.js"

/** How a call is retried. */
export interface RetryPolicy {
  /** Retries after the first attempt (`MAX_RETRIES`); attempts = maxRetries + 1. */
  readonly maxRetries: number
  /** Bound of the first backoff (`RETRY_INITIAL_WAIT`). */
  readonly initialWait: Duration.Duration
  /** Cap on a backoff (`RETRY_MAX_WAIT`); a `Retry-After` may exceed it. */
  readonly maxWait: Duration.Duration
  /**
   * Longest `Retry-After` honoured; longer ones are waited only this long. Default:
   * max(maxWait, 5 minutes), as a misbehaving proxy's `Retry-After: 86400` must not park a call.
   */
  readonly maxRetryAfter?: Duration.Duration
  /**
   * Total time for the call, attempts and waits included. A wait that would end past it is not
   * started: a `Retry-After` fails the call with `RetryBudgetExceeded`, a backoff returns the last
   * error. Unset: no budget.
   */
  readonly budget?: Duration.Duration
}

/** The floor of the default `maxRetryAfter`. */
export const DEFAULT_MAX_RETRY_AFTER: Duration.Duration = Duration.minutes(5)

/** The policy of `MAX_RETRIES`, `RETRY_INITIAL_WAIT` and `RETRY_MAX_WAIT`. */
export const policyFromConfig = (config: AppConfigShape): RetryPolicy => ({
  maxRetries: config.retry.maxRetries,
  initialWait: config.retry.initialWait,
  maxWait: config.retry.maxWait
})

/** The longest `Retry-After` the policy honours. */
export const maxRetryAfterOf = (policy: RetryPolicy): Duration.Duration =>
  policy.maxRetryAfter ?? Duration.max(policy.maxWait, DEFAULT_MAX_RETRY_AFTER)

/**
 * Upper bound of the backoff before retry `n` (0 for the first retry): min(maxWait, initial·2^n).
 * A zero initial wait or cap is no wait at all (and never 0·∞ = NaN for a huge `n`).
 */
export const backoffBound = (policy: RetryPolicy, n: number): Duration.Duration => {
  const cap = Duration.toMillis(policy.maxWait)
  const initial = Duration.toMillis(policy.initialWait)
  return cap <= 0 || initial <= 0 ? Duration.zero : Duration.millis(Math.min(cap, initial * 2 ** n))
}

/** The jittered backoff before retry `n`: uniform in [0, backoffBound(n)], whole milliseconds. */
export const backoffDelay = (policy: RetryPolicy, n: number): Effect.Effect<Duration.Duration> =>
  Effect.map(Random.next, (r) => Duration.millis(Math.floor(r * Duration.toMillis(backoffBound(policy, n)))))

/** `LlmError.isRetryable` for any error value (kept here too: callers of `retryLlm` read it as a retry rule). */
export { isRetryableError }

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : undefined

/** The `Retry-After` a `RateLimited` error carries, if any. */
export const retryAfterOf = (error: unknown): Option.Option<Duration.Duration> => {
  if (tagOf(error) !== "RateLimited") return Option.none()
  const ms = (error as { readonly retryAfterMs?: unknown }).retryAfterMs
  return typeof ms === "number" && Number.isFinite(ms) && ms >= 0 ? Option.some(Duration.millis(ms)) : Option.none()
}

/** The `reason` label of `llm_retries_total`: `rate_limited`, `provider_unavailable`, `timeout` or `other`. */
export const retryReason = (error: unknown): string => {
  switch (tagOf(error)) {
    case "RateLimited":
      return "rate_limited"
    case "ProviderUnavailable":
      return "provider_unavailable"
    case "Timeout":
      return "timeout"
    default:
      return "other"
  }
}

/** What `onRetry` is told before each wait. */
export interface RetryInfo<E> {
  /** The retry about to happen: 1 for the first retry (the second attempt). */
  readonly attempt: number
  /** How long the call waits before it. */
  readonly delay: Duration.Duration
  /** The failure that caused it. */
  readonly error: E
  /** `retryReason(error)`, ready for the `llm_retries_total{reason}` label. */
  readonly reason: string
  /** Whether the wait came from a `Retry-After` rather than the backoff. */
  readonly fromRetryAfter: boolean
}

/** Hooks and overrides of `retryLlm`. */
export interface RetryOptions<E, R> {
  /** Which failures are retried; default `isRetryableError`. `CircuitOpen` is never retried. */
  readonly isRetryable?: (error: E) => boolean
  /** Runs before each wait: record `llm_retries_total{reason}`, publish a Retrying event. */
  readonly onRetry?: (info: RetryInfo<E>) => Effect.Effect<void, never, R>
  /**
   * When the call started (epoch ms, the `Clock`'s time), if the caller has read it already; the
   * budget counts from here. Default: the time `retryLlm` starts.
   */
  readonly startedAt?: number
  /**
   * The first attempt has already run, outside `retryLlm`, and failed with `error`: the retry
   * decision for it is the first step (the attempt counts as attempt 0). Lets a caller run the
   * usual single attempt without the retry machinery around it and bring that in only on failure.
   */
  readonly firstFailure?: { readonly error: E }
}

/**
 * Runs `effect`, retrying it under `policy`. It stops at once on a failure that is not retryable
 * (including `CircuitOpen`), after `maxRetries` retries, or when the next wait would overrun the
 * budget. A `RateLimited` with `retryAfterMs` waits exactly that long (bounded by `maxRetryAfter`)
 * instead of the backoff. Defects and interruptions are never retried. The decisions are a
 * `Schedule` (`retrySchedule`) driven by `Effect.retry`.
 */
export const retryLlm = <A, E, R, R2 = never>(
  effect: Effect.Effect<A, E, R>,
  policy: RetryPolicy,
  options: RetryOptions<E, R2> = {}
): Effect.Effect<A, E | RetryBudgetExceeded, R | R2> =>
  options.startedAt === undefined
    ? Effect.flatMap(Clock.currentTimeMillis, (start) => retryFrom(effect, policy, options, start))
    : retryFrom(effect, policy, options, options.startedAt)

/** `retryLlm` with the budget counted from `start`. */
const retryFrom = <A, E, R, R2>(
  effect: Effect.Effect<A, E, R>,
  policy: RetryPolicy,
  options: RetryOptions<E, R2>,
  start: number
): Effect.Effect<A, E | RetryBudgetExceeded, R | R2> =>
  Effect.suspend(() => {
    // A Retry-After past the budget ends the call with this error; a schedule can only stop.
    let refused: RetryBudgetExceeded | undefined
    const schedule = retrySchedule<E, R2>(policy, { ...options, startedAt: start }, (error) => {
      refused = error
    })
    // A first attempt that already ran is replayed as the first failure the schedule sees.
    const first = options.firstFailure
    let replayed = first === undefined
    const attempts = replayed ? effect : Effect.suspend(() => {
      if (replayed) return effect
      replayed = true
      return Effect.fail(first!.error)
    })
    return Effect.catchAll(Effect.retry(attempts, schedule), (error) => Effect.fail(refused ?? error))
  })

/** The wait a retry decision chose. */
interface Wait<E> {
  readonly error: E
  /** The retry this wait precedes, 1-based. */
  readonly attempt: number
  readonly delayMs: number
  readonly retryAfter: Option.Option<Duration.Duration>
}

/**
 * The retry decisions of one call as a `Schedule` over its failures: retryable failures only, at
 * most `maxRetries`, each wait a `Retry-After` or a jittered backoff, none that would end past the
 * budget; `onRetry` runs just before each wait that is taken. `refuse` is told when a
 * `Retry-After` would overrun the budget.
 */
export const retrySchedule = <E, R2>(
  policy: RetryPolicy,
  options: RetryOptions<E, R2> & { readonly startedAt: number },
  refuse: (error: RetryBudgetExceeded) => void
): Schedule.Schedule<Wait<E>, E, R2> => {
  const retryable = options.isRetryable ?? isRetryableError
  const maxRetryAfterMs = Duration.toMillis(maxRetryAfterOf(policy))
  const budgetMs = policy.budget === undefined ? undefined : Duration.toMillis(policy.budget)
  const waitOf = ([error, n]: [E, number]): Effect.Effect<Wait<E>> => {
    const retryAfter = retryAfterOf(error)
    return Option.isSome(retryAfter)
      ? Effect.succeed({ error, attempt: n + 1, retryAfter, delayMs: Math.min(Duration.toMillis(retryAfter.value), maxRetryAfterMs) })
      : Effect.map(backoffDelay(policy, n), (delay) => ({ error, attempt: n + 1, retryAfter, delayMs: Duration.toMillis(delay) }))
  }
  const fitsBudget = (wait: Wait<E>): Effect.Effect<boolean> =>
    budgetMs === undefined ? Effect.succeed(true) : Effect.map(Clock.currentTimeMillis, (now) => {
      const remaining = budgetMs - (now - options.startedAt)
      if (wait.delayMs <= remaining) return true
      if (Option.isSome(wait.retryAfter)) refuse(budgetError(wait.error, wait.retryAfter.value, remaining))
      return false
    })
  const announce = (wait: Wait<E>): Effect.Effect<void, never, R2> =>
    options.onRetry === undefined ? Effect.void : options.onRetry({
      attempt: wait.attempt,
      delay: Duration.millis(wait.delayMs),
      error: wait.error,
      reason: retryReason(wait.error),
      fromRetryAfter: Option.isSome(wait.retryAfter)
    })
  return Schedule.identity<E>().pipe(
    Schedule.whileInput((error) => tagOf(error) !== "CircuitOpen" && retryable(error)),
    Schedule.intersect(Schedule.recurs(policy.maxRetries)),
    Schedule.mapEffect(waitOf),
    Schedule.modifyDelay((wait) => Duration.millis(wait.delayMs)),
    // The last check runs only for a retry that will happen: it is the one place to announce it.
    Schedule.checkEffect((_, wait) =>
      Effect.flatMap(fitsBudget(wait), (fits) => fits ? Effect.as(announce(wait), true) : Effect.succeed(false))
    )
  )
}

const budgetError = (error: unknown, retryAfter: Duration.Duration, remainingMs: number): RetryBudgetExceeded => {
  const { model, provider } = error as { readonly provider?: unknown; readonly model?: unknown }
  return new RetryBudgetExceeded({
    provider: typeof provider === "string" ? provider : "unknown",
    model: typeof model === "string" ? model : "unknown",
    retryAfterMs: Duration.toMillis(retryAfter),
    budgetMs: Math.max(0, remainingMs)
  })
}

/**
 * The call budget of a configuration: every attempt running to its timeout plus every backoff at
 * its cap. A `Retry-After` that would end past it fails fast with `RetryBudgetExceeded`.
 */
export const callBudget = (config: AppConfigShape): Duration.Duration =>
  Duration.sum(
    Duration.times(config.llm.timeout, config.retry.maxRetries + 1),
    Duration.times(config.retry.maxWait, config.retry.maxRetries)
  )
