/**
 * The limiter's buckets in Redis: `@effect/experimental`'s own Redis store (token buckets and fixed
 * windows, atomic across processes), behind the limiter's `RedisConnection` breaker, with a memory
 * store taking over while Redis is down.
 *
 * That store opens an ioredis client of its own, which we cannot reach; so it is given options
 * under which it never waits and never reconnects: no retries, 1 s per command, and no reconnection
 * (a client whose connection drops ends; commands on it fail at once). The breaker decides when
 * Redis is up: each time it finds it so (connected at startup, back after an outage) the store is
 * opened afresh in a `ScopedRef`, whose previous client is quit — so the store's client only ever
 * connects to a Redis that just answered, and ioredis has no connection error to print.
 */
import * as ExperimentalRateLimiter from "@effect/experimental/RateLimiter"
import * as ExperimentalRedis from "@effect/experimental/RateLimiter/Redis"
import { type Duration, Effect, Exit, Scope, ScopedRef } from "effect"
import type { RedisOptions } from "ioredis"
import * as RedisConnection from "../RedisConnection.js"

type Store = ExperimentalRateLimiter.RateLimiterStore["Type"]

/** Where the store lives and what answers while Redis is down. */
export interface RedisBucketStoreOptions {
  /** Host, port, db, credentials and TLS of the server (`RedisConnection.redisOptionsFromUrl`). */
  readonly server: RedisOptions
  /** Prefix of every bucket key. */
  readonly prefix: string
  /** How long one command may take; default 1 s. */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /** This process's store with the same limits, used while Redis is down. */
  readonly fallback: Store
}

/** The store's client, opened again each time Redis is found up. */
export interface RedisBucketStore {
  /** Opens a fresh store, quitting the previous one: the connection's `onUp`. */
  readonly open: Effect.Effect<void>
  /** The `RateLimiterStore`: Redis's behind `connection`'s breaker, the fallback while it is down. */
  readonly on: (connection: RedisConnection.RedisConnection) => Store
}

/** A store that opens no client until `open`; the current scope quits the last one. */
export const make = (options: RedisBucketStoreOptions): Effect.Effect<RedisBucketStore, never, Scope.Scope> =>
  Effect.gen(function*() {
    // (`tls` apart: the store's type does not take an explicit `undefined`.)
    const { tls, ...server } = options.server
    const clientOptions: Parameters<typeof ExperimentalRedis.make>[0] = {
      ...server,
      ...(tls === undefined ? {} : { tls }),
      ...RedisConnection.failFastOptions(options.commandTimeout),
      // Connect at once (Redis just answered) and hold the calls made meanwhile: the queue lives
      // only as long as this one connection attempt, since the client never reconnects.
      enableOfflineQueue: true,
      retryStrategy: () => null,
      prefix: options.prefix
    }
    // The store quits its client when its scope closes; a client that already ended (its server
    // went away) rejects the QUIT, which must not fail the swap.
    const experimental = Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Effect.exit(Scope.close(scope, Exit.void)))
      return yield* Scope.extend(ExperimentalRedis.make(clientOptions), scope)
    })
    const current = yield* ScopedRef.make(() => options.fallback)

    const on = (connection: RedisConnection.RedisConnection): Store => {
      const call = <A>(use: (store: Store) => Effect.Effect<A, ExperimentalRateLimiter.RateLimiterError>) =>
        connection.guard(Effect.flatMap(ScopedRef.get(current), use), (error) => (error.reason === "StoreError" ? error.cause : undefined)).pipe(
          Effect.catchTag("RedisDown", () => use(options.fallback))
        )
      return {
        tokenBucket: (bucket) => call((store) => store.tokenBucket(bucket)),
        fixedWindow: (window) => call((store) => store.fixedWindow(window))
      }
    }
    return { open: ScopedRef.set(current, experimental), on }
  })
