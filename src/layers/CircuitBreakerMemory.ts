/**
 * CircuitBreakerMemory — circuits kept in this process's memory.
 *
 * A circuit's state is a plain object changed only in synchronous steps, so two fibers can never
 * interleave inside a decision. Each state carries a generation number bumped on every transition:
 * a call reports its outcome only to the generation it started in, so a slow call that began before
 * the circuit opened cannot close it (or count twice) later. Time comes from Effect's `Clock`, so
 * `TestClock` drives the reset timeout in tests.
 *
 * Not `Effect`'s own facilities: Effect 3 has no circuit breaker, and `@effect/experimental` neither.
 */
import { Cause, Duration, Effect, Layer, Metric, Option, PubSub, Stream } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import {
  type BreakerChange,
  type BreakerOptions,
  type BreakerState,
  CircuitBreaker,
  type CircuitBreakerService,
  countsAsFailure,
  gaugeValue
} from "../services/CircuitBreaker.js"
import { CircuitOpen } from "../services/LlmError.js"
import { circuitBreakerState } from "../services/Metrics.js"
import * as PassThrough from "./PassThrough.js"

/** Settings of the breaker (`ENABLE_CIRCUIT_BREAKER`, `CIRCUIT_BREAKER_*`). */
export interface BreakerSettings {
  readonly enabled: boolean
  readonly failureThreshold: number
  readonly resetTimeout: Duration.DurationInput
}

/** @deprecated The pass-through breaker now lives in `PassThrough`: use `PassThrough.circuitBreaker`. */
export const passThrough: CircuitBreakerService = PassThrough.circuitBreaker

type Circuit =
  | { readonly _tag: "closed"; readonly generation: number; failures: number }
  | { readonly _tag: "open"; readonly generation: number; readonly retryAt: number }
  | { readonly _tag: "half-open"; readonly generation: number; readonly openedRetryAt: number }

/**
 * How a call ended, as the circuit sees it. "neutral": a failure that does not count (the provider
 * answered, the request was wrong); "unknown": an interruption or a defect, which says nothing
 * about the provider.
 */
type Verdict = "success" | "failure" | "neutral" | "unknown"

/** The verdict on a call that failed with `cause`. */
const verdictOf = <E>(cause: Cause.Cause<E>, isFailure: (error: E) => boolean): Verdict => {
  const failure = Cause.failureOption(cause)
  if (Option.isNone(failure)) return "unknown"
  return isFailure(failure.value) ? "failure" : "neutral"
}

/**
 * The circuit after a call of its generation ended with `verdict` at `now`, or `undefined` when it
 * stays where it is (a closed circuit's failure count is updated in place).
 */
const afterCall = (
  circuit: Circuit,
  verdict: Verdict,
  now: number,
  threshold: number,
  resetMs: number
): Circuit | undefined => {
  const open: Circuit = { _tag: "open", generation: circuit.generation + 1, retryAt: now + resetMs }
  switch (circuit._tag) {
    case "closed": {
      if (verdict === "success") circuit.failures = 0
      if (verdict !== "failure") return undefined
      circuit.failures += 1
      return circuit.failures >= threshold ? open : undefined
    }
    case "half-open": {
      if (verdict === "failure") return open
      // An answer, even a refusal of this request, shows the provider is serving again.
      if (verdict !== "unknown") return { _tag: "closed", generation: circuit.generation + 1, failures: 0 }
      // The probe was cut short: reopen as it was, already due, so the next caller probes.
      return { _tag: "open", generation: circuit.generation + 1, retryAt: circuit.openedRetryAt }
    }
    case "open":
      return undefined
  }
}

/** The change `from` → `to` of `key`'s circuit, as `changes` publishes it. */
const changeOf = (key: string, from: Circuit, to: Circuit): BreakerChange => ({
  breaker: key,
  from: from._tag,
  to: to._tag,
  ...(to._tag === "open" ? { retryAt: to.retryAt } : {})
})

/** The log line of a transition. */
const logTransition = (change: BreakerChange): Effect.Effect<void> =>
  (change.to === "open"
    ? Effect.logWarning("circuit opened; calls fail fast until the reset timeout")
    : Effect.logInfo(`circuit ${change.to}`)).pipe(Effect.annotateLogs({
      breaker: change.breaker,
      from: change.from,
      to: change.to,
      ...(change.retryAt !== undefined ? { retryAt: new Date(change.retryAt).toISOString() } : {})
    }))

const gauge = (key: string, state: BreakerState) =>
  Metric.set(Metric.tagged(circuitBreakerState, "breaker", key), gaugeValue(state))

/** The circuits of one breaker, and how it reports a transition. */
interface Circuits {
  readonly byKey: Map<string, Circuit>
  readonly resetMs: number
  readonly transition: (key: string, from: Circuit, to: Circuit) => Effect.Effect<void>
}

/**
 * Admits a call to `key`'s circuit at `now`: the generation it runs in, as a number when nothing is
 * to report (the usual closed circuit) or as an effect that reports a transition; or `CircuitOpen`.
 */
const admit = (circuits: Circuits, key: string, now: number): number | Effect.Effect<number, CircuitOpen> => {
  const circuit = circuits.byKey.get(key)
  if (circuit === undefined) {
    circuits.byKey.set(key, { _tag: "closed", generation: 0, failures: 0 })
    // A new circuit shows up on the dashboard as closed before anything happens to it.
    return Effect.as(gauge(key, "closed"), 0)
  }
  switch (circuit._tag) {
    case "closed":
      return circuit.generation
    case "open": {
      if (now < circuit.retryAt) return Effect.fail(new CircuitOpen({ breaker: key, retryAt: circuit.retryAt }))
      const probing: Circuit = { _tag: "half-open", generation: circuit.generation + 1, openedRetryAt: circuit.retryAt }
      return Effect.as(circuits.transition(key, circuit, probing), probing.generation)
    }
    case "half-open":
      // The probe's outcome is unknown; the worst case is that it fails and the circuit stays open
      // for another reset timeout from now.
      return Effect.fail(new CircuitOpen({ breaker: key, retryAt: now + circuits.resetMs }))
  }
}

/** The memory breaker with these settings. */
export const makeWith = (settings: BreakerSettings): Effect.Effect<CircuitBreakerService> =>
  Effect.gen(function*() {
    if (!settings.enabled) return PassThrough.circuitBreaker
    const resetMs = Duration.toMillis(settings.resetTimeout)
    const threshold = Math.max(1, settings.failureThreshold)
    const circuits = new Map<string, Circuit>()
    const hub = yield* PubSub.unbounded<BreakerChange>()

    /** Sets the circuit and returns the effects that report the transition. */
    const transition = (key: string, from: Circuit, to: Circuit): Effect.Effect<void> => {
      circuits.set(key, to)
      const change = changeOf(key, from, to)
      return Effect.all([gauge(key, to._tag), PubSub.publish(hub, change), logTransition(change)], { discard: true })
    }
    const breaker: Circuits = { byKey: circuits, resetMs, transition }

    /**
     * Records how a call ended at `now`, if its circuit is still in the generation it started in:
     * the effect reporting a transition, or `undefined` when there is none (the usual case).
     */
    const settle = (key: string, generation: number, verdict: Verdict, now: number): Effect.Effect<void> | undefined => {
      const circuit = circuits.get(key)
      if (circuit === undefined || circuit.generation !== generation) return undefined
      const next = afterCall(circuit, verdict, now, threshold, resetMs)
      return next === undefined ? undefined : transition(key, circuit, next)
    }

    const withBreaker = <A, E, R>(
      key: string,
      effect: Effect.Effect<A, E, R>,
      options?: BreakerOptions<E>
    ): Effect.Effect<A, E | CircuitOpen, R> => {
      const isFailure = options?.isFailure ?? countsAsFailure
      // Admission and the outcome handler are installed without a gap, so an interrupted probe
      // always reports back and never leaves its circuit half-open.
      return Effect.clockWith((clock) =>
        Effect.uninterruptibleMask((restore) => {
          // `matchCauseEffect` rather than `onExit`: the region is uninterruptible already, and
          // `onExit` would add a second one around every call.
          const run = (generation: number) =>
            Effect.matchCauseEffect(restore(effect), {
              onSuccess: (value) => {
                const report = settle(key, generation, "success", clock.unsafeCurrentTimeMillis())
                return report === undefined ? Effect.succeed(value) : Effect.as(report, value)
              },
              onFailure: (cause) => {
                const report = settle(key, generation, verdictOf(cause, isFailure), clock.unsafeCurrentTimeMillis())
                return report === undefined ? Effect.failCause(cause) : Effect.zipRight(report, Effect.failCause(cause))
              }
            })
          const admitted = admit(breaker, key, clock.unsafeCurrentTimeMillis())
          return typeof admitted === "number" ? run(admitted) : Effect.flatMap(admitted, run)
        })
      )
    }

    return {
      withBreaker,
      state: (key) => Effect.sync(() => circuits.get(key)?._tag ?? "closed"),
      changes: Stream.fromPubSub(hub)
    }
  })

/** The breaker of `AppConfig` (the pass-through breaker when disabled). */
export const make: Effect.Effect<CircuitBreakerService, never, AppConfig> = Effect.flatMap(
  AppConfig,
  (config) => makeWith(config.circuitBreaker)
)

/** `CircuitBreaker` in this process's memory. */
export const layer: Layer.Layer<CircuitBreaker, never, AppConfig> = Layer.effect(CircuitBreaker, make)
