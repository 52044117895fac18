/**
 * A per-attempt timeout that costs one fiber and a plain timer on the live clock.
 *
 * `Effect.timeoutFail` forks the call and a sleeping fiber, each scheduled, and interrupts the
 * loser: measured ~80 µs a call at concurrency 1,000, the largest single cost of the resilient
 * layer's hot path. Under any other clock (`TestClock`) the ordinary operator keeps time, so tests
 * drive timeouts as before.
 */
import { Clock, Context, Duration, Effect, type Exit, Fiber, Runtime } from "effect"

/** The live clock's prototype: the timeout's fast path runs only on it. */
const liveClockPrototype: unknown = Object.getPrototypeOf(Clock.make())
/** The longest delay a JS timer takes; the live clock treats longer sleeps as endless. */
const MAX_TIMER_MILLIS = 2 ** 31 - 1

/**
 * `Effect.timeoutFail` on the live clock, as one fiber and a plain timer. The call runs in a fiber
 * of its own that starts at once, on this stack (`Runtime.runFork` with the caller's context,
 * fiber refs and flags, forked as `Effect.fork` would): a call that completes without waiting
 * (a cache-like provider, an immediate failure) needs no timer and no scheduler hop. Otherwise
 * whichever ends first, the call or the timer, settles it. A call that ends first is joined (its
 * exit and fiber refs, as the operator does); at the timeout the call is interrupted, awaited, and
 * the timeout error returned. Interrupting the caller interrupts the call. (`Effect.timeoutFail`
 * forks the call and a sleeping fiber, each scheduled, and interrupts the loser: measured ~80 µs
 * a call at concurrency 1,000.)
 */
const timeoutLive = <A, E, E2>(
  self: Effect.Effect<A, E>,
  ms: number,
  onTimeout: () => E2,
  runtime: Runtime.Runtime<never>
): Effect.Effect<A, E | E2> => {
  const child = Runtime.runFork(runtime)(self)
  const done = child.unsafePoll()
  if (done !== null) return Effect.zipRight(child.inheritAll, done)
  return Effect.async<A, E | E2>((resume) => {
    const observer = (exit: Exit.Exit<A, E>) => {
      clearTimeout(timer)
      resume(Effect.zipRight(child.inheritAll, exit))
    }
    const timer = setTimeout(() => {
      child.removeObserver(observer)
      resume(Effect.zipRight(Fiber.interrupt(child), Effect.failSync(onTimeout)))
    }, ms)
    child.addObserver(observer)
    return Effect.suspend(() => {
      clearTimeout(timer)
      child.removeObserver(observer)
      return Fiber.interrupt(child)
    })
  })
}

/** Whether a plain timer can keep `ms` for this fiber: its clock is the live one and `ms` fits a timer. */
const timerCanKeep = (fiber: Fiber.RuntimeFiber<unknown, unknown>, ms: number): boolean =>
  ms <= MAX_TIMER_MILLIS &&
  Object.getPrototypeOf(Context.get(fiber.currentDefaultServices, Clock.Clock)) === liveClockPrototype

/** `Effect.timeoutFail(self, { duration, onTimeout })`, cheaper on the live clock (see above). */
export const timeoutFail = <A, E, E2>(
  self: Effect.Effect<A, E>,
  duration: Duration.Duration,
  onTimeout: () => E2
): Effect.Effect<A, E | E2> =>
  Effect.withFiberRuntime((fiber, status) => {
    const ms = Duration.toMillis(duration)
    return timerCanKeep(fiber, ms)
      ? timeoutLive(self, ms, onTimeout, Runtime.make({
        context: fiber.currentContext,
        fiberRefs: fiber.getFiberRefs(),
        runtimeFlags: status.runtimeFlags
      }))
      : Effect.timeoutFail(self, { duration, onTimeout })
  })
