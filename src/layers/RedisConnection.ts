/**
 * RedisConnection — the Redis client of one adapter (the cache or the limiter), behind a breaker.
 *
 * The client never waits for Redis: commands are not queued while it is disconnected
 * (`enableOfflineQueue: false`), commands in flight fail when the connection drops
 * (`maxRetriesPerRequest: 0`), and a command or connection attempt gives up after 1 s. It keeps
 * reconnecting in the background (at most once a second). On top, a breaker (`redisBreaker`) turns
 * the first connection fault into an outage: the connection is dropped (so commands still waiting on
 * a hung server fail together), and commands fail at once with `RedisDown` — the adapter takes its
 * fallback — until a background `PING` succeeds. So a dead or hung Redis costs at most one command
 * timeout per outage, with one warning when it starts and one info line when it ends.
 *
 * At startup the client connects before the adapter is built (at most 1 s); an unreachable Redis is
 * the same outage, not an error: the process starts on the fallback and picks Redis up when it
 * answers. `REDIS_URL` may hold a password: only `host:port` is ever shown, and reasons are scrubbed.
 */
import { Data, Duration, Effect, Redacted, type Scope } from "effect"
import { Redis, type RedisOptions } from "ioredis"
import * as RedisBreaker from "../internal/redisBreaker.js"

export { RedisDown } from "../internal/redisBreaker.js"

/** An error Redis answered with (it is up, but refused the command). */
export class RedisReplyError extends Data.TaggedError("RedisReplyError")<{
  readonly reason: string
  readonly cause: unknown
}> {
  override get message(): string {
    return this.reason
  }
}

/** Settings of one connection. */
export interface RedisConnectionOptions {
  readonly url: Redacted.Redacted<string>
  /** The breaker's name in `circuit_breaker_state{breaker}`: `redis:cache`, `redis:limiter`. */
  readonly name: string
  /** What the adapter does while Redis is down, ending the warning: "cache bypassed". */
  readonly fallback: string
  /** What it does again once Redis is back: "cache in use again". */
  readonly restored: string
  /** How long one command may take (default 1 s). */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /** Time between probes while Redis is down (default 2 s). */
  readonly resetTimeout?: Duration.DurationInput | undefined
}

/** A client and the breaker in front of it. */
export interface RedisConnection {
  /** The client, for commands that must not go through the breaker (best-effort counters). */
  readonly client: Redis
  /** `host:port` of the server. */
  readonly address: string
  /**
   * Runs one command. While Redis is down it fails at once with `RedisDown`; a connection fault
   * (refused, closed, timed out) also fails with `RedisDown` and starts an outage; an error Redis
   * answered with fails with `RedisReplyError`.
   */
  readonly run: <A>(command: (client: Redis) => Promise<A>) => Effect.Effect<A, RedisBreaker.RedisDown | RedisReplyError>
}

const CONNECT_TIMEOUT_MS = 1000

/** `host:port` of a Redis URL — the only part of it we ever show. */
export const redisAddress = (url: Redacted.Redacted<string>): string => {
  try {
    const u = new URL(Redacted.value(url))
    return `${u.hostname}:${u.port === "" ? "6379" : u.port}`
  } catch {
    return "<unparseable REDIS_URL>"
  }
}

/** ioredis options from a `redis://` or `rediss://` URL (user, password and `/db` included). */
export const redisOptionsFromUrl = (url: string): RedisOptions => {
  const u = new URL(url)
  const db = Number(u.pathname.replace(/^\//, "") || "0")
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: u.port === "" ? 6379 : Number(u.port),
    ...(u.username === "" ? {} : { username: decodeURIComponent(u.username) }),
    ...(u.password === "" ? {} : { password: decodeURIComponent(u.password) }),
    ...(Number.isInteger(db) ? { db } : {}),
    ...(u.protocol === "rediss:" ? { tls: {} } : {})
  }
}

/** Password and username of the URL: strings that must never appear in a log line. */
const secretParts = (url: Redacted.Redacted<string>): ReadonlyArray<string> => {
  try {
    const u = new URL(Redacted.value(url))
    return [u.password, decodeURIComponent(u.password), u.username].filter((s) => s.length >= 3)
  } catch {
    return []
  }
}

const messageOf = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/** Redis answered (with an error): the server is up. Everything else is a connection fault. */
const isReply = (cause: unknown): boolean => cause instanceof Error && cause.name === "ReplyError"

/** A connected (or, when Redis is unreachable, reconnecting) client; quit when the scope closes. */
export const make = (options: RedisConnectionOptions): Effect.Effect<RedisConnection, never, Scope.Scope> =>
  Effect.gen(function*() {
    const address = redisAddress(options.url)
    const secrets = secretParts(options.url)
    const scrub = (text: string) => secrets.reduce((t, secret) => t.split(secret).join("<redacted>"), text)
    // The latest connection error says more than the command's "Stream isn't writeable".
    let connectionError: string | undefined
    const reasonOf = (cause: unknown) => scrub(connectionError ?? messageOf(cause))

    let url: RedisOptions
    try {
      url = redisOptionsFromUrl(Redacted.value(options.url))
    } catch {
      url = { host: "invalid-redis-url.invalid" }
    }
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const redis = new Redis({
          ...url,
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          connectTimeout: CONNECT_TIMEOUT_MS,
          commandTimeout: Math.round(Duration.toMillis(options.commandTimeout ?? Duration.seconds(1))),
          retryStrategy: (times) => Math.min(times * 100, 1000),
          // ioredis arms this timer on disconnect even for a socket already closed by an outage,
          // and it holds the process open that long after everything else has ended.
          disconnectTimeout: 100
        })
        // Without a listener ioredis prints each connection error with its stack to stderr.
        redis.on("error", (error: Error) => {
          connectionError = error.message
        })
        // A server that shuts down closes the socket without an error: say so rather than
        // "Stream isn't writeable".
        redis.on("close", () => {
          connectionError ??= "connection closed"
        })
        redis.on("ready", () => {
          connectionError = undefined
        })
        return redis
      }),
      (redis) => Effect.promise(() => quit(redis))
    )

    const command = <A>(f: (client: Redis) => Promise<A>) =>
      Effect.tryPromise({ try: () => f(client), catch: (cause) => cause })
    const breaker = yield* RedisBreaker.make({
      name: options.name,
      address,
      fallback: options.fallback,
      restored: options.restored,
      probe: command((c) => c.ping()),
      resetTimeout: options.resetTimeout ?? RedisBreaker.DEFAULT_RESET_TIMEOUT,
      // A command timed out on a live socket (a hung server): drop it, so every command still
      // waiting on it fails now instead of each at its own timeout; ioredis reconnects by itself.
      onTrip: Effect.sync(() => {
        if (client.status === "ready" || client.status === "connect") client.disconnect(true)
      })
    })

    const connected = yield* Effect.tryPromise(() => client.connect()).pipe(
      Effect.timeout(CONNECT_TIMEOUT_MS * 2),
      Effect.either
    )
    // ioredis keeps reconnecting after a failed first attempt; the probe sees when it succeeds.
    if (connected._tag === "Left") yield* breaker.trip(reasonOf(connected.left))

    const run = <A>(f: (client: Redis) => Promise<A>) =>
      breaker.guard(command(f), (cause) => (isReply(cause) ? undefined : reasonOf(cause))).pipe(
        Effect.mapError((error) =>
          error instanceof RedisBreaker.RedisDown ? error : new RedisReplyError({ reason: scrub(messageOf(error)), cause: error })
        )
      )
    return { client, address, run }
  })

const quit = async (redis: Redis): Promise<void> => {
  if (redis.status === "ready") {
    // QUIT waits for pending replies; a stuck server must not hold up shutdown.
    await Promise.race([
      redis.quit().catch(() => "OK"),
      new Promise((resolve) => setTimeout(resolve, 1000).unref())
    ])
  }
  redis.disconnect()
}
