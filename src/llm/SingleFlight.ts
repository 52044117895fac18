/**
 * SingleFlight — identical requests in flight share one run.
 *
 * The first caller of a key leads: it runs its effect, and every caller of the same key that comes
 * while it runs follows, getting the leader's exit as it is, however it ends (an interrupted leader
 * must not leave followers waiting forever; a follower's own interruption only stops its wait).
 * Not Effect's `Cache`: its lookup is fixed per key, and a flight runs the leader's own call.
 */
import { Effect, Exit } from "effect"

/** Runs `effect` as the flight of `key`, or joins the flight already under way. */
export type SingleFlight<A, E> = (key: string, effect: Effect.Effect<A, E>) => Effect.Effect<A, E>

export const make = <A, E>(): SingleFlight<A, E> => {
  // Followers of each flight; a flight with none allocates nothing beyond its entry.
  const flights = new Map<string, { waiters: Set<(exit: Exit.Exit<A, E>) => void> | undefined }>()

  const follow = (flight: { waiters: Set<(exit: Exit.Exit<A, E>) => void> | undefined }): Effect.Effect<A, E> =>
    Effect.async<A, E>((resume) => {
      const waiters = flight.waiters ??= new Set()
      waiters.add(resume)
      return Effect.sync(() => {
        waiters.delete(resume)
      })
    })

  // The flight is registered and its exit handler installed in one uninterruptible step (as
  // `Effect.onExit` would), so no interruption can leave a flight without its leader.
  // `matchCauseEffect` rather than `onExit`: the region is uninterruptible already, and `onExit`
  // would add a second one around every call.
  return (key, effect) =>
    Effect.uninterruptibleMask((restore) => {
      const existing = flights.get(key)
      if (existing !== undefined) return restore(follow(existing))
      const flight: { waiters: Set<(exit: Exit.Exit<A, E>) => void> | undefined } = { waiters: undefined }
      flights.set(key, flight)
      const land = (exit: Exit.Exit<A, E>): Exit.Exit<A, E> => {
        flights.delete(key)
        if (flight.waiters !== undefined) for (const waiter of flight.waiters) waiter(exit)
        return exit
      }
      return Effect.matchCauseEffect(restore(effect), {
        onSuccess: (value) => land(Exit.succeed(value)),
        onFailure: (cause) => land(Exit.failCause(cause))
      })
    })
}
