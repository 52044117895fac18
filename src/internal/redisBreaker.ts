/**
 * redisBreaker — fail fast while a Redis is down, and probe it in the background until it is back.
 *
 * Up: commands run; the first connection fault (refused, closed, timed out) trips the breaker. Down:
 * commands fail at once with `RedisDown`, without a round trip, and a background fiber sends one
 * probe every `resetTimeout`; the first probe that succeeds closes the breaker. So an outage costs
 * callers at most the one command timeout that revealed it. One warning when an outage starts, one
 * info line when it ends; the state shows in `circuit_breaker_state{breaker}` (0 up, 2 down).
 *
 * Not `CircuitBreakerMemory`: its probe is a caller's own call (a hung Redis would stall one caller
 * per reset) and it logs every transition (a warning per failed probe), where an outage must log once.
 */
import { Data, Duration, Effect, Metric, Ref, Schedule, type Scope } from "effect"
import { circuitBreakerState } from "../services/Metrics.js"

/** Redis is known to be down (or a command just found it so); the caller takes its fallback. */
export class RedisDown extends Data.TaggedError("RedisDown")<{
  readonly address: string
  readonly reason: string
}> {
  override get message(): string {
    return `Redis at ${this.address} unreachable: ${this.reason}`
  }
}

/** What the breaker guards and how it talks about it. */
export interface RedisBreakerOptions {
  /** The breaker's name in `circuit_breaker_state{breaker}`, e.g. `redis:cache`. */
  readonly name: string
  /** `host:port`: the only part of `REDIS_URL` ever shown. */
  readonly address: string
  /** What callers do meanwhile, ending the warning: "cache bypassed". */
  readonly fallback: string
  /** What callers do again once it is back, ending the info line: "cache in use again". */
  readonly restored: string
  /** One round trip that succeeds only when Redis serves again (a `PING`). */
  readonly probe: Effect.Effect<unknown, unknown>
  /** Time between probes while down. */
  readonly resetTimeout: Duration.DurationInput
  /** Run when an outage starts: e.g. drop the connection so commands still waiting on it fail now. */
  readonly onTrip?: Effect.Effect<void>
}

/** The breaker of one Redis client. */
export interface RedisBreaker {
  /**
   * Runs `effect` while Redis is up; fails with `RedisDown` at once while it is down. A failure
   * for which `faultReason` gives a reason is a connection fault: it trips the breaker and
   * becomes `RedisDown`; other failures (Redis answered with an error) pass through.
   */
  readonly guard: <A, E>(
    effect: Effect.Effect<A, E>,
    faultReason: (error: E) => string | undefined
  ) => Effect.Effect<A, E | RedisDown>
  /** Marks Redis down (e.g. unreachable at startup); a no-op while it is down already. */
  readonly trip: (reason: string) => Effect.Effect<void>
  /** Whether Redis is down now. */
  readonly isDown: Effect.Effect<boolean>
}

/** The default time between probes while Redis is down. */
export const DEFAULT_RESET_TIMEOUT = Duration.seconds(2)

/** Down since (epoch ms) and why, or `undefined` while up. */
type Outage = { readonly since: number; readonly reason: string } | undefined

/** A breaker whose probe fiber lives in the current scope. */
export const make = (options: RedisBreakerOptions): Effect.Effect<RedisBreaker, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const outage = yield* Ref.make<Outage>(undefined)
    const gauge = Metric.tagged(circuitBreakerState, "breaker", options.name)
    const annotations = { backend: "redis", breaker: options.name }
    yield* Metric.set(gauge, 0)

    const recover = Effect.flatMap(Effect.clockWith((clock) => clock.currentTimeMillis), (now) =>
      Effect.flatMap(Ref.getAndSet(outage, undefined), (was) =>
        Effect.zipRight(
          Metric.set(gauge, 0),
          Effect.logInfo(`Redis at ${options.address} is back: ${options.restored}`).pipe(
            Effect.annotateLogs({ ...annotations, downForMs: was === undefined ? 0 : now - was.since })
          )
        )))

    // Sleep, probe, repeat until a probe succeeds; a probe may not outlast the interval.
    const probing = Effect.sleep(options.resetTimeout).pipe(
      Effect.zipRight(Effect.timeout(options.probe, options.resetTimeout)),
      Effect.retry(Schedule.forever),
      Effect.zipRight(recover)
    )

    const trip = (reason: string): Effect.Effect<void> =>
      Effect.flatMap(Effect.clockWith((clock) => clock.currentTimeMillis), (now) =>
        Effect.flatMap(
          Ref.modify(outage, (current): [boolean, Outage] =>
            current === undefined ? [true, { since: now, reason }] : [false, current]),
          (tripped) =>
            tripped
              ? Effect.all([
                Metric.set(gauge, 2),
                Effect.logWarning(`Redis at ${options.address} unreachable: ${options.fallback} until it is back`).pipe(
                  Effect.annotateLogs({ ...annotations, reason })
                ),
                options.onTrip ?? Effect.void,
                Effect.forkIn(probing, scope)
              ], { discard: true })
              : Effect.void
        ))

    const guard = <A, E>(
      effect: Effect.Effect<A, E>,
      faultReason: (error: E) => string | undefined
    ): Effect.Effect<A, E | RedisDown> =>
      Effect.flatMap(Ref.get(outage), (current) =>
        current !== undefined
          ? Effect.fail(new RedisDown({ address: options.address, reason: current.reason }))
          : Effect.catchAll(effect, (error): Effect.Effect<never, E | RedisDown> => {
            const reason = faultReason(error)
            return reason === undefined
              ? Effect.fail(error)
              : Effect.zipRight(trip(reason), Effect.fail(new RedisDown({ address: options.address, reason })))
          }))

    return { guard, trip, isDown: Effect.map(Ref.get(outage), (o) => o !== undefined) }
  })
