/**
 * Keyed FIFO lanes: `run(key, f)` runs `f` after everyone who entered `key`'s lane before it, and
 * alone in that lane. The rate limiter queues its callers per key in them.
 *
 * Not Effect's `Semaphore`: a released semaphore wakes its waiters but lets a newcomer barge in
 * first, and the loser goes to the back of the queue, so arrival order would be lost.
 */
import { Effect } from "effect"

/** A caller waiting for its turn in a lane. */
interface Waiter {
  granted: boolean
  wake: () => void
}

/** Whether a caller is in the lane, and who waits (a `Set` keeps arrival order). */
interface Lane {
  busy: boolean
  readonly queue: Set<Waiter>
}

/** Lanes by key. */
export interface FifoLanes {
  /** Runs `f` in `key`'s lane; only the wait for the turn and `f` itself can be interrupted. */
  readonly run: <A, E, R>(key: string, f: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Callers in a lane or waiting for their turn, over all keys. */
  readonly size: () => number
}

const noop = (): void => {}

/** Empty lanes; a key's lane is made on its first use. */
export const make = (): FifoLanes => {
  const lanes = new Map<string, Lane>()
  let size = 0

  /** The caller in `lane` is done: hand the lane to the first waiter, or free it. */
  const leave = (lane: Lane): void => {
    size -= 1
    const next = lane.queue.values().next()
    if (next.done === true) {
      lane.busy = false
      return
    }
    lane.queue.delete(next.value)
    next.value.granted = true
    next.value.wake()
  }

  const run = <A, E, R>(key: string, f: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    // The lane is taken (or the caller queued) and its release installed in one uninterruptible
    // step, so an interruption can never leave a lane taken.
    Effect.uninterruptibleMask((restore) => {
      let lane = lanes.get(key)
      if (lane === undefined) {
        lane = { busy: false, queue: new Set() }
        lanes.set(key, lane)
      }
      const current = lane
      size += 1
      // `matchCauseEffect` rather than `onExit`: the region is uninterruptible already, and `onExit`
      // would add a second one around every caller.
      const inLane = Effect.matchCauseEffect(restore(f), {
        onSuccess: (value) => {
          leave(current)
          return Effect.succeed(value)
        },
        onFailure: (cause) => {
          leave(current)
          return Effect.failCause(cause)
        }
      })
      if (!current.busy) {
        current.busy = true
        return inLane
      }
      const waiter: Waiter = { granted: false, wake: noop }
      return restore(Effect.async<void>((resume) => {
        waiter.wake = () => resume(Effect.void)
        current.queue.add(waiter)
      })).pipe(
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            // Granted and interrupted in the same instant: pass the turn on.
            if (waiter.granted) return leave(current)
            current.queue.delete(waiter)
            size -= 1
          })
        ),
        Effect.zipRight(inLane)
      )
    })

  return { run, size: () => size }
}
