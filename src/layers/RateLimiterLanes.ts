/**
 * RateLimiterLanes — the limiter's algorithm, shared by the memory and Redis backends, which only
 * choose its two stores: a bucket store (`@effect/experimental`'s `RateLimiterStore`) and a
 * `PauseStore` for the `Retry-After` pauses.
 *
 * The bucket arithmetic is the store's token bucket, called as `@effect/experimental`'s
 * `RateLimiter` does for token-bucket with `onExceeded: "delay"`, so the same algorithm runs
 * in-process and across processes.
 *
 * Why not `@effect/experimental`'s `RateLimiter` alone: its "delay" mode reserves a slot and tells
 * the caller how long to sleep, which is fair only between callers that reach the store in order,
 * but (1) nothing orders the callers of one process before they reach the store (a Redis round trip
 * lets them overtake), (2) callers that need different buckets (tokens or not) and callers whose
 * sleeps end at the same instant can be released out of order, and (3) it knows nothing of a
 * `Retry-After` pause. So each key has a FIFO lane (`internal/fifoLanes`): a caller takes its turn,
 * waits out any pause, reserves in both buckets, sleeps until the reservation is due, checks the
 * pause again and only then leaves the lane. Releasing callers one at a time costs nothing in
 * throughput (the next one reserves the moment the previous one is granted) and makes arrival order
 * the grant order, so a big token request cannot be overtaken by small ones. Across processes
 * (Redis), reservations are served in the order they reach Redis.
 *
 * Costs above a bucket's capacity are clamped to it: the experimental limiter would otherwise make
 * such a call wait one period and then let it through without charging it. An interrupted waiter's
 * reservation is not given back: returning it would let a newcomer overtake earlier waiters; the
 * price is at most one unused slot per interrupted waiter. The store refills whole slots and
 * derives the delay from the deficit, so a caller arriving between two refills of an empty bucket
 * may wait up to one refill interval (period / limit) longer than strictly needed: the limiter errs
 * on the safe side. Callers queued behind a waiter reserve at a refill instant and wait exactly.
 */
import * as ExperimentalRateLimiter from "@effect/experimental/RateLimiter"
import { Clock, Duration, Effect } from "effect"
import * as FifoLanes from "../internal/fifoLanes.js"
import { type FixedTagged, fixedTags, rateLimiterWaitSeconds, updateAllAs } from "../services/Metrics.js"
import {
  type Cost,
  type Limits,
  RateLimiterBackendError,
  type RateLimiterService
} from "../services/RateLimiter.js"
import * as PassThrough from "./PassThrough.js"

/**
 * Where pauses live (the `Retry-After` of a 429, shared by every caller of a key). `pausedUntil`
 * returns epoch ms, 0 when the key is not paused; `pauseUntil` never shortens an existing pause.
 */
export interface PauseStore {
  readonly backend: string
  readonly pausedUntil: (key: string) => Effect.Effect<number, RateLimiterBackendError>
  readonly pauseUntil: (key: string, untilMs: number) => Effect.Effect<void, RateLimiterBackendError>
}

/** How often the same backend fault is logged again while it persists. */
const WARNING_INTERVAL_MS = 30_000

/** Logs a backend fault once per operation and `WARNING_INTERVAL_MS`, so a dead store is one line, not one a call. */
const makeWarn = () => {
  const lastWarned = new Map<string, number>()
  return (error: RateLimiterBackendError): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const last = lastWarned.get(error.operation)
      if (last !== undefined && now - last < WARNING_INTERVAL_MS) return Effect.void
      lastWarned.set(error.operation, now)
      return Effect.logWarning("rate limiter backend failed; granting permits without it").pipe(
        Effect.annotateLogs({ backend: error.backend, operation: error.operation, reason: error.reason })
      )
    })
}

interface Bucket {
  readonly name: string
  readonly limit: number
  readonly refillRate: Duration.Duration
  readonly refillMs: number
}

const bucketOf = (name: string, limit: number, period: Duration.Duration): Bucket => {
  const refillRate = Duration.unsafeDivide(period, limit)
  return { name, limit, refillRate, refillMs: Duration.toMillis(refillRate) }
}

/**
 * `reserve(key, cost)`: takes `cost` from every bucket of `key` and returns the delay (ms) before the
 * permit is usable; a store fault is warned about and grants at once.
 *
 * The store's token bucket is called directly: `ExperimentalRateLimiter.consume` with
 * `algorithm: "token-bucket", onExceeded: "delay"` is this call plus a result object and four
 * `Duration`s per permit, on every LLM attempt (costs are clamped to the limit, so its over-limit
 * branch never applies). The delay is the deficit times the refill interval, as there.
 */
const makeReserve = (
  store: ExperimentalRateLimiter.RateLimiterStore["Type"],
  limits: Limits,
  backend: string,
  warn: (error: RateLimiterBackendError) => Effect.Effect<void>
) => {
  const requestsBucket = bucketOf("requests", limits.maxCalls, limits.period)
  const tokensBucket = bucketOf("tokens", limits.maxTokens ?? 1, limits.period)
  const storeFault = (bucket: Bucket) => (error: ExperimentalRateLimiter.RateLimiterError) =>
    warn(
      new RateLimiterBackendError({
        backend,
        operation: `reserve ${bucket.name}`,
        reason: error.message,
        ...(error.reason === "StoreError" && error.cause !== undefined ? { cause: error.cause } : {})
      })
    ).pipe(Effect.as(0))
  const consume = (key: string, bucket: Bucket, amount: number): Effect.Effect<number> =>
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
          onFailure: storeFault(bucket),
          onSuccess: (remaining) => Effect.succeed(remaining >= 0 ? 0 : bucket.refillMs * -remaining)
        }
      )
  return (key: string, cost: Cost): Effect.Effect<number> => {
    const requests = Math.min(Math.max(0, Math.ceil(cost.requests ?? 1)), limits.maxCalls)
    const tokens = limits.maxTokens === undefined
      ? 0
      : Math.min(Math.max(0, Math.ceil(cost.tokens ?? 0)), limits.maxTokens)
    // Without a token bucket (or tokens to take) the request bucket alone decides.
    if (tokens === 0) return consume(key, requestsBucket, requests)
    return Effect.zipWith(consume(key, requestsBucket, requests), consume(key, tokensBucket, tokens), Math.max)
  }
}

/**
 * The limiter over a bucket store (`@effect/experimental`'s `RateLimiterStore` in the context) and
 * `pauses`, enforcing `limits`; the pass-through limiter when they are disabled.
 */
export const fromStores = (
  pauses: PauseStore,
  limits: Limits
): Effect.Effect<RateLimiterService, never, ExperimentalRateLimiter.RateLimiterStore> =>
  Effect.gen(function*() {
    if (!limits.enabled) return PassThrough.rateLimiter
    const store = yield* ExperimentalRateLimiter.RateLimiterStore
    const warn = makeWarn()
    const reserve = makeReserve(store, limits, pauses.backend, warn)
    const lanes = FifoLanes.make()
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

    /** When `key`'s pause ends (epoch ms); a store fault is warned about and pauses nobody. */
    const pausedUntil = (key: string): Effect.Effect<number> =>
      Effect.catchAll(pauses.pausedUntil(key), (error) => Effect.as(warn(error), 0))

    /** Sleeps until `key` is no longer paused; loops because a new 429 may extend the pause. */
    const awaitPause = (key: string): Effect.Effect<void> =>
      Effect.flatMap(pausedUntil(key), (until) =>
        Effect.clockWith((clock) => {
          const now = clock.unsafeCurrentTimeMillis()
          return until <= now ? Effect.void : Effect.zipRight(Effect.sleep(Duration.millis(until - now)), awaitPause(key))
        }))

    /** Records the wait of a caller that arrived at `start` and is granted at `now`, and returns it. */
    const granted = (key: string, start: number, now: number): Effect.Effect<Duration.Duration> =>
      updateAllAs([[waitMetric(key), (now - start) / 1000]], Duration.millis(now - start))

    /**
     * A caller's turn in its lane: wait out any pause, reserve, sleep until the reservation is due
     * (and out any pause that came meanwhile), then record the wait since `start`. `clock` is the
     * caller's, read once as it arrives.
     */
    const grant = (key: string, cost: Cost, start: number, clock: Clock.Clock): Effect.Effect<Duration.Duration> =>
      Effect.flatMap(pausedUntil(key), (until) => {
        const now = clock.unsafeCurrentTimeMillis()
        if (until > now) return Effect.zipRight(Effect.sleep(Duration.millis(until - now)), grant(key, cost, start, clock))
        return Effect.flatMap(reserve(key, cost), (delay) =>
          delay > 0
            ? Effect.sleep(Duration.millis(delay)).pipe(
              Effect.zipRight(awaitPause(key)),
              Effect.zipRight(Effect.suspend(() => granted(key, start, clock.unsafeCurrentTimeMillis())))
            )
            : granted(key, start, now))
      })

    const acquire = (key: string, cost: Cost): Effect.Effect<Duration.Duration> =>
      Effect.clockWith((clock) => lanes.run(key, grant(key, cost, clock.unsafeCurrentTimeMillis(), clock)))

    const feedback = (key: string, retryAfter: Duration.Duration): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        pauses.pauseUntil(key, now + Duration.toMillis(retryAfter)).pipe(Effect.catchAll(warn)))

    return { acquire, feedback, waiting: Effect.sync(lanes.size) }
  })
