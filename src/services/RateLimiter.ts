/**
 * RateLimiter — permits for LLM calls, per `provider:model` key.
 *
 * A key has a token bucket of `RATE_LIMIT_MAX_CALLS` requests per `RATE_LIMIT_PERIOD` and, when
 * `RATE_LIMIT_MAX_TOKENS` is set, a second bucket of tokens per period. The bucket arithmetic is
 * the token bucket of `@effect/experimental`'s `RateLimiterStore`s (memory or Redis), called as its
 * `RateLimiter` does for token-bucket with `onExceeded: "delay"`, so the same algorithm runs
 * in-process and across processes.
 *
 * `fromStores` adds what that module lacks (see its comments): strict FIFO order of waiters per key,
 * a pause for everyone after a 429's `Retry-After`, a waiting count and the wait metric. The adapters
 * in `layers/RateLimiter{Memory,Redis}.ts` only choose the stores.
 */
import * as ExperimentalRateLimiter from "@effect/experimental/RateLimiter"
import { Clock, Context, Duration, Effect, Schema } from "effect"
import type { AppConfigShape } from "./AppConfig.js"
import { type FixedTagged, fixedTags, rateLimiterWaitSeconds } from "./Metrics.js"

// ---------------------------------------------------------------------------------------------
// The port
// ---------------------------------------------------------------------------------------------

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

/** A limiter that grants every permit at once; used when `RATE_LIMIT_ENABLED=false`. */
export const disabled: RateLimiterService = {
  acquire: () => Effect.succeed(Duration.zero),
  feedback: () => Effect.void,
  waiting: Effect.succeed(0)
}

// ---------------------------------------------------------------------------------------------
// Stores
// ---------------------------------------------------------------------------------------------

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

/**
 * Where pauses live (the `Retry-After` of a 429, shared by every caller of a key). `pausedUntil`
 * returns epoch ms, 0 when the key is not paused; `pauseUntil` never shortens an existing pause.
 */
export interface PauseStore {
  readonly backend: string
  readonly pausedUntil: (key: string) => Effect.Effect<number, RateLimiterBackendError>
  /**
   * `pausedUntil` answered at once, for a store that holds pauses in memory: lets a caller that
   * finds its lane empty skip the lane's bookkeeping (see `acquire` in `fromStores`).
   */
  readonly unsafePausedUntil?: (key: string) => number
  readonly pauseUntil: (key: string, untilMs: number) => Effect.Effect<void, RateLimiterBackendError>
}

/** The limits `fromStores` enforces, usually `limitsFromConfig(config)`. */
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

/** How often the same backend fault is logged again while it persists. */
const WARNING_INTERVAL_MS = 30_000

/**
 * Builds the service from a bucket store (`@effect/experimental`'s `RateLimiterStore` in the
 * context) and a `PauseStore`.
 *
 * Why not `@effect/experimental`'s `RateLimiter` alone: its "delay" mode reserves a slot and tells
 * the caller how long to sleep, which is fair only between callers that reach the store in order,
 * but (1) nothing orders the callers of one process before they reach the store (a Redis round trip
 * lets them overtake), (2) callers that need different buckets (tokens or not) and callers whose
 * sleeps end at the same instant can be released out of order, and (3) it knows nothing of a
 * `Retry-After` pause. So each key has a FIFO lane: a caller takes its turn, waits out any pause,
 * reserves in both buckets, sleeps until the reservation is due, checks the pause again and only
 * then leaves the lane. Releasing callers one at a time costs nothing in throughput (the next one
 * reserves the moment the previous one is granted) and makes arrival order the grant order, so a
 * big token request cannot be overtaken by small ones. Across processes (Redis), reservations are
 * served in the order they reach Redis.
 *
 * Costs above a bucket's capacity are clamped to it: the experimental limiter would otherwise make
 * such a call wait one period and then let it through without charging it. An interrupted waiter's
 * reservation is not given back: returning it would let a newcomer overtake earlier waiters; the
 * price is at most one unused slot per interrupted waiter. The store refills whole slots and
 * derives the delay from the deficit, so a caller arriving between two refills of an empty bucket
 * may wait up to one refill interval (period / limit) longer than strictly needed: the limiter errs
 * on the safe side. Callers queued behind a waiter reserve at a refill instant and wait exactly.
 */
export const fromStores = (
  pauses: PauseStore,
  limits: Limits
): Effect.Effect<RateLimiterService, never, ExperimentalRateLimiter.RateLimiterStore> =>
  Effect.gen(function*() {
    if (!limits.enabled) return disabled
    // The store's token bucket, called directly: `ExperimentalRateLimiter.consume` with
    // `algorithm: "token-bucket", onExceeded: "delay"` is this call plus a result object and four
    // `Duration`s per permit, on every LLM attempt (costs are clamped to the limit, below, so its
    // over-limit branch never applies). The delay is the deficit times the refill interval, as there.
    const store = yield* ExperimentalRateLimiter.RateLimiterStore
    interface Bucket {
      readonly name: string
      readonly limit: number
      readonly refillRate: Duration.Duration
      readonly refillMs: number
    }
    const bucketOf = (name: string, limit: number): Bucket => {
      const refillRate = Duration.unsafeDivide(limits.period, limit)
      return { name, limit, refillRate, refillMs: Duration.toMillis(refillRate) }
    }
    const requestsBucket = bucketOf("requests", limits.maxCalls)
    const tokensBucket = bucketOf("tokens", limits.maxTokens ?? 1)

    /** A caller waiting for its turn in a lane. */
    interface Waiter {
      granted: boolean
      wake: () => void
    }
    /** Per key: whether a caller is in the lane, and who waits (a `Set` keeps arrival order). */
    interface Lane {
      busy: boolean
      readonly queue: Set<Waiter>
    }
    const lanes = new Map<string, Lane>()
    let waiters = 0
    // One updater per key: tagging on every acquire would re-hash the tags each time.
    const waitMetrics = new Map<string, FixedTagged<number>>()
    const waitMetric = (key: string) => {
      let metric = waitMetrics.get(key)
      if (metric === undefined) {
        metric = fixedTags(rateLimiterWaitSeconds, { key })
        waitMetrics.set(key, metric)
      }
      return metric
    }
    const lastWarned = new Map<string, number>()

    const warn = (error: RateLimiterBackendError) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const last = lastWarned.get(error.operation)
        if (last !== undefined && now - last < WARNING_INTERVAL_MS) return Effect.void
        lastWarned.set(error.operation, now)
        return Effect.logWarning("rate limiter backend failed; granting permits without it").pipe(
          Effect.annotateLogs({ backend: error.backend, operation: error.operation, reason: error.reason })
        )
      })

    const fromExperimental = (operation: string) => (error: ExperimentalRateLimiter.RateLimiterError) =>
      new RateLimiterBackendError({
        backend: pauses.backend,
        operation,
        reason: error.message,
        ...(error.reason === "StoreError" && error.cause !== undefined ? { cause: error.cause } : {})
      })

    /** Sleeps until `key` is no longer paused; loops because a new 429 may extend the pause. */
    const awaitPause = (key: string): Effect.Effect<void> =>
      Effect.flatMap(
        Effect.catchAll(pauses.pausedUntil(key), (error) => Effect.as(warn(error), 0)),
        (until) =>
          Effect.clockWith((clock) => {
            const now = clock.unsafeCurrentTimeMillis()
            return until <= now ? Effect.void : Effect.zipRight(Effect.sleep(Duration.millis(until - now)), awaitPause(key))
          })
      )

    /** Reserves `cost` in every bucket of `key`; returns the delay before the permit is usable. */
    const reserve = (key: string, cost: Cost): Effect.Effect<number> => {
      const requests = Math.min(Math.max(0, Math.ceil(cost.requests ?? 1)), limits.maxCalls)
      const tokens = limits.maxTokens === undefined
        ? 0
        : Math.min(Math.max(0, Math.ceil(cost.tokens ?? 0)), limits.maxTokens)
      const consume = (bucket: Bucket, amount: number) =>
        amount === 0
          ? Effect.succeed(0)
          : Effect.matchEffect(
            store.tokenBucket({
              key: `${key}:${bucket.name}`,
              tokens: amount,
              limit: bucket.limit,
              refillRate: bucket.refillRate,
              allowOverflow: true
            }),
            {
              onFailure: (error) => Effect.as(warn(fromExperimental(`reserve ${bucket.name}`)(error)), 0),
              onSuccess: (remaining) => Effect.succeed(remaining >= 0 ? 0 : bucket.refillMs * -remaining)
            }
          )
      // Without a token bucket (or tokens to take) the request bucket alone decides.
      if (tokens === 0) return consume(requestsBucket, requests)
      return Effect.zipWith(consume(requestsBucket, requests), consume(tokensBucket, tokens), Math.max)
    }

    /**
     * Runs `f` in `key`'s lane, after everyone who entered before and alone. (A plain queue rather
     * than Effect's `Semaphore`: a released semaphore wakes its waiters but lets a newcomer barge
     * in first, and the loser goes to the back of the queue.)
     */
    const inLane = <A>(key: string, f: Effect.Effect<A>): Effect.Effect<A> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          let lane = lanes.get(key)
          if (lane === undefined) {
            lane = { busy: false, queue: new Set() }
            lanes.set(key, lane)
          }
          const current = lane
          const run = Effect.onExit(restore(f), () => Effect.sync(() => leave(current)))
          if (!current.busy) {
            current.busy = true
            return run
          }
          const waiter: Waiter = { granted: false, wake: () => {} }
          return restore(Effect.async<void>((resume) => {
            waiter.wake = () => resume(Effect.void)
            current.queue.add(waiter)
          })).pipe(
            // Granted and interrupted in the same instant: pass the turn on.
            Effect.onInterrupt(() =>
              Effect.sync(() => {
                if (waiter.granted) leave(current)
                else current.queue.delete(waiter)
              })
            ),
            Effect.zipRight(run)
          )
        })
      )

    /** Hands the lane to the first waiter, or frees it. */
    const leave = (lane: Lane): void => {
      const next = lane.queue.values().next()
      if (next.done === true) {
        lane.busy = false
        return
      }
      lane.queue.delete(next.value)
      next.value.granted = true
      next.value.wake()
    }

    /** A caller's turn in its lane: wait out any pause, reserve, sleep until the reservation is due. */
    const grant = (key: string, cost: Cost): Effect.Effect<void> =>
      Effect.zipRight(
        awaitPause(key),
        Effect.flatMap(reserve(key, cost), (delay) =>
          delay > 0
            // A 429 may have arrived while this caller slept on its reservation.
            ? Effect.zipRight(Effect.sleep(Duration.millis(delay)), awaitPause(key))
            : Effect.void)
      )

    const leftWaiting = Effect.sync(() => {
      waiters -= 1
    })

    /** Records the wait of a caller that arrived at `start`, and returns it. */
    const waitedSince = (key: string, start: number): Effect.Effect<Duration.Duration> =>
      Effect.clockWith((clock) => {
        const waited = clock.unsafeCurrentTimeMillis() - start
        return Effect.as(waitMetric(key)(waited / 1000), Duration.millis(waited))
      })

    /** The usual path: the caller waits its turn in the key's lane (see `inLane`, `grant`). */
    const acquireInLane = (key: string, cost: Cost, start: number): Effect.Effect<Duration.Duration> =>
      Effect.uninterruptibleMask((restore) => {
        waiters += 1
        return Effect.onExit(restore(Effect.zipRight(inLane(key, grant(key, cost)), waitedSince(key, start))), () => leftWaiting)
      })

    const unsafePausedUntil = pauses.unsafePausedUntil

    /**
     * The common case, with pauses in memory: nobody in the lane and no pause. The caller takes the
     * lane for its reservation directly — the same order and the same checks as `inLane(grant)` —
     * and, when the reservation is due at once (a generous limit), returns without a wait: about a
     * dozen steps instead of forty. The lane is taken and released inside the uninterruptible region,
     * or released by a handler installed in it, so an interruption can never leave it taken.
     */
    const acquireIdle = (
      key: string,
      cost: Cost,
      start: number,
      lane: Lane
    ): Effect.Effect<Duration.Duration> =>
      Effect.uninterruptibleMask((restore) => {
        // The fiber may have yielded since the lane was seen free: then queue as usual.
        if (lane.busy) return restore(acquireInLane(key, cost, start))
        lane.busy = true
        return Effect.flatMap(reserve(key, cost), (delay) => {
          if (delay <= 0) {
            leave(lane)
            return Effect.as(waitMetric(key)(0), Duration.zero)
          }
          waiters += 1
          // A 429 may have arrived while this caller slept on its reservation.
          const slept = restore(Effect.zipRight(Effect.sleep(Duration.millis(delay)), awaitPause(key)))
          return Effect.onExit(
            Effect.zipRight(Effect.onExit(slept, () => Effect.sync(() => leave(lane))), waitedSince(key, start)),
            () => leftWaiting
          )
        })
      })

    const acquire = (key: string, cost: Cost): Effect.Effect<Duration.Duration> =>
      Effect.withFiberRuntime((fiber) => {
        const start = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
        const lane = lanes.get(key)
        if (unsafePausedUntil === undefined || (lane !== undefined && lane.busy) || unsafePausedUntil(key) > start) {
          return acquireInLane(key, cost, start)
        }
        let idle = lane
        if (idle === undefined) {
          idle = { busy: false, queue: new Set() }
          lanes.set(key, idle)
        }
        return acquireIdle(key, cost, start, idle)
      })

    const feedback = (key: string, retryAfter: Duration.Duration): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        pauses.pauseUntil(key, now + Duration.toMillis(retryAfter)).pipe(Effect.catchAll(warn)))

    return {
      acquire,
      feedback,
      waiting: Effect.sync(() => waiters)
    }
  })
