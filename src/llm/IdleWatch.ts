/**
 * IdleWatch — a stream's head and its rest, read ahead by one fiber and watched by one timer: a gap
 * between chunks longer than `idle` ends it with `expired()` (the read is interrupted).
 *
 * Not `Stream.timeoutFail`: it races every pull against a sleep — a fiber and a timer per chunk,
 * which measured at about a quarter of a millisecond per chunk, more than everything else a
 * streamed call does. Here a chunk costs a clock read and a mailbox offer; the timer wakes once per
 * `idle` at most. Chunks are queued without bound, so a slow reader never makes the provider look
 * idle; an answer is small.
 */
import { type Chunk, type Clock, type Duration, Effect, Exit, Fiber, Mailbox, Option, type Scope, type Stream } from "effect"
import * as D from "effect/Duration"

export interface IdleWatchOptions<A, E> {
  readonly idle: Duration.Duration
  readonly clock: Clock.Clock
  /** Runs on each chunk as it arrives, before the reader gets it. */
  readonly onChunk: (chunk: Chunk.Chunk<A>) => Effect.Effect<void>
  /** The failure of a gap longer than `idle`. */
  readonly expired: () => E
}

/**
 * `head`, then `pull` (failing with `None` at its end), as a stream: read ahead in the scope and
 * watched. The reader has `head` at once; the two fibers run only once the reader gives way.
 */
export const watch = <A, E>(
  head: Iterable<A>,
  pull: Effect.Effect<Chunk.Chunk<A>, Option.Option<E>>,
  options: IdleWatchOptions<A, E>
): Effect.Effect<Stream.Stream<A, E>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { clock } = options
    const idleMs = D.toMillis(options.idle)
    // A mailbox rather than a queue of `Take`s: the reader takes everything buffered in one pull,
    // with no `flattenTake` stage per chunk.
    const mailbox = yield* Effect.acquireRelease(Mailbox.make<A, E>(), (m) => m.shutdown)
    mailbox.unsafeOfferAll(head)
    let last = clock.unsafeCurrentTimeMillis()
    let done = false
    const pump = pull.pipe(
      Effect.flatMap((chunk) => {
        last = clock.unsafeCurrentTimeMillis()
        return Effect.map(options.onChunk(chunk), () => mailbox.unsafeOfferAll(chunk))
      }),
      Effect.forever,
      Effect.catchAll((end) => {
        done = true
        return Effect.sync(() => mailbox.unsafeDone(Option.isNone(end) ? Exit.void : Exit.fail(end.value)))
      })
    )
    const reading = yield* Effect.forkScoped(pump)
    const timer: Effect.Effect<void> = Effect.suspend(() => {
      if (done) return Effect.void
      const left = idleMs - (clock.unsafeCurrentTimeMillis() - last)
      if (left > 0) return Effect.zipRight(Effect.sleep(D.millis(left)), timer)
      done = true
      return Effect.zipRight(Fiber.interrupt(reading), Effect.sync(() => mailbox.unsafeDone(Exit.fail(options.expired()))))
    })
    yield* Effect.forkScoped(timer)
    return Mailbox.toStream(mailbox)
  })
