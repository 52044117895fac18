/**
 * CircuitBreakerMemory — circuits kept in this process's memory.
 *
 * A circuit's state is a plain object changed only in synchronous steps, so two fibers can never
 * interleave inside a decision. Each state carries a generation number bumped on every transition:
 * a call reports its outcome only to the generation it started in, so a slow call that began before
 * the circuit opened cannot close it (or count twice) later. Time comes from Effect's `Clock`, so
 * `TestClock` drives the reset timeout in tests.
 */
import { Cause, Clock, Duration, Effect, Exit, Layer, Metric, Option, PubSub, Stream } from "effect"
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

type Circuit =
  | { readonly _tag: "closed"; readonly generation: number; failures: number }
  | { readonly _tag: "open"; readonly generation: number; readonly retryAt: number }
  | { readonly _tag: "half-open"; readonly generation: number; readonly openedRetryAt: number }

/** What a call was let through as: an ordinary call while closed, or the probe while half-open. */
type Ticket = { readonly kind: "call" | "probe"; readonly generation: number }

/** @deprecated The pass-through breaker now lives in `PassThrough`: use `PassThrough.circuitBreaker`. */
export const passThrough: CircuitBreakerService = PassThrough.circuitBreaker

/** The memory breaker with these settings. */
export const makeWith = (settings: BreakerSettings): Effect.Effect<CircuitBreakerService> =>
  Effect.gen(function*() {
    if (!settings.enabled) return PassThrough.circuitBreaker
    const resetMs = Duration.toMillis(settings.resetTimeout)
    const threshold = Math.max(1, settings.failureThreshold)
    const circuits = new Map<string, Circuit>()
    const hub = yield* PubSub.unbounded<BreakerChange>()

    const gauge = (key: string, state: BreakerState) =>
      Metric.set(Metric.tagged(circuitBreakerState, "breaker", key), gaugeValue(state))

    /** Sets the circuit and returns the effects that report the transition. */
    const transition = (key: string, from: Circuit, to: Circuit): Effect.Effect<void> => {
      circuits.set(key, to)
      const change: BreakerChange = {
        breaker: key,
        from: from._tag,
        to: to._tag,
        ...(to._tag === "open" ? { retryAt: to.retryAt } : {})
      }
      const log = to._tag === "open"
        ? Effect.logWarning("circuit opened; calls fail fast until the reset timeout")
        : Effect.logInfo(`circuit ${to._tag}`)
      return Effect.all([
        gauge(key, to._tag),
        PubSub.publish(hub, change),
        log.pipe(Effect.annotateLogs({
          breaker: key,
          from: from._tag,
          to: to._tag,
          ...(to._tag === "open" ? { retryAt: new Date(to.retryAt).toISOString() } : {})
        }))
      ], { discard: true })
    }

    const circuitOf = (key: string): { readonly circuit: Circuit; readonly isNew: boolean } => {
      const found = circuits.get(key)
      if (found !== undefined) return { circuit: found, isNew: false }
      const circuit: Circuit = { _tag: "closed", generation: 0, failures: 0 }
      circuits.set(key, circuit)
      return { circuit, isNew: true }
    }

    /** Lets the call through (with its ticket) or refuses it with `CircuitOpen`. */
    const admit = (key: string): Effect.Effect<Ticket, CircuitOpen> =>
      Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<Ticket, CircuitOpen> => {
        const { circuit, isNew } = circuitOf(key)
        // A new circuit shows up on the dashboard as closed before anything happens to it.
        const shown = isNew ? gauge(key, "closed") : Effect.void
        switch (circuit._tag) {
          case "closed":
            return Effect.as(shown, { kind: "call", generation: circuit.generation })
          case "open": {
            if (now < circuit.retryAt) {
              return Effect.fail(new CircuitOpen({ breaker: key, retryAt: circuit.retryAt }))
            }
            const probing: Circuit = {
              _tag: "half-open",
              generation: circuit.generation + 1,
              openedRetryAt: circuit.retryAt
            }
            return Effect.as(transition(key, circuit, probing), { kind: "probe", generation: probing.generation })
          }
          case "half-open":
            // The probe's outcome is unknown; the worst case is that it fails and the circuit
            // stays open for another reset timeout from now.
            return Effect.fail(new CircuitOpen({ breaker: key, retryAt: now + resetMs }))
        }
      })

    const open = (key: string, from: Circuit, now: number) =>
      transition(key, from, { _tag: "open", generation: from.generation + 1, retryAt: now + resetMs })

    const close = (key: string, from: Circuit) =>
      transition(key, from, { _tag: "closed", generation: from.generation + 1, failures: 0 })

    /** Records how a call ended, if its circuit is still in the generation it started in. */
    const settle = <A, E>(
      key: string,
      ticket: Ticket,
      exit: Exit.Exit<A, E>,
      isFailure: (error: E) => boolean
    ): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const circuit = circuits.get(key)
        if (circuit === undefined || circuit.generation !== ticket.generation) return Effect.void
        const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none<E>()
        // "neutral": a failure that does not count (the provider answered, the request was wrong);
        // "unknown": an interruption or a defect, which says nothing about the provider.
        const verdict = Exit.isSuccess(exit)
          ? "success"
          : Option.isSome(failure)
          ? isFailure(failure.value) ? "failure" : "neutral"
          : "unknown"
        switch (circuit._tag) {
          case "closed": {
            if (verdict === "success") circuit.failures = 0
            if (verdict !== "failure") return Effect.void
            circuit.failures += 1
            return circuit.failures >= threshold ? open(key, circuit, now) : Effect.void
          }
          case "half-open": {
            if (verdict === "failure") return open(key, circuit, now)
            // An answer, even a refusal of this request, shows the provider is serving again.
            if (verdict !== "unknown") return close(key, circuit)
            // The probe was cut short: reopen as it was, already due, so the next caller probes.
            return transition(key, circuit, {
              _tag: "open",
              generation: circuit.generation + 1,
              retryAt: circuit.openedRetryAt
            })
          }
          case "open":
            return Effect.void
        }
      })

    const withBreaker = <A, E, R>(
      key: string,
      effect: Effect.Effect<A, E, R>,
      options?: BreakerOptions<E>
    ): Effect.Effect<A, E | CircuitOpen, R> => {
      const isFailure = options?.isFailure ?? countsAsFailure
      // Admission and the outcome handler are installed without a gap, so an interrupted probe
      // always reports back and never leaves its circuit half-open.
      const circuit = circuits.get(key)
      if (circuit !== undefined && circuit._tag === "closed") {
        // The common case, decided without reading the clock: a closed circuit admits the call,
        // and a success in the same generation only resets the failure count. No uninterruptible
        // region: an interrupted call says nothing about the provider, and a closed circuit has
        // nothing to undo for it (`settle` ignores interruptions there).
        const ticket: Ticket = { kind: "call", generation: circuit.generation }
        return Effect.matchCauseEffect(effect, {
          onSuccess: (value) => {
            // A later generation (the circuit moved on meanwhile) does not hear of this call.
            if (circuits.get(key) === circuit) circuit.failures = 0
            return Effect.succeed(value)
          },
          onFailure: (cause) => Effect.zipRight(settle(key, ticket, Exit.failCause(cause), isFailure), Effect.failCause(cause))
        })
      }
      return Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(admit(key), (ticket) => Effect.onExit(restore(effect), (exit) => settle(key, ticket, exit, isFailure)))
      )
    }

    return {
      withBreaker,
      state: (key) => Effect.sync(() => circuits.get(key)?._tag ?? "closed"),
      changes: Stream.fromPubSub(hub)
    }
  })

/** The breaker of `AppConfig` (a pass-through when disabled). */
export const make: Effect.Effect<CircuitBreakerService, never, AppConfig> = Effect.flatMap(
  AppConfig,
  (config) => makeWith(config.circuitBreaker)
)

/** `CircuitBreaker` in this process's memory. */
export const layer: Layer.Layer<CircuitBreaker, never, AppConfig> = Layer.effect(CircuitBreaker, make)
