/**
 * StreamReader — one attempt's stream, read to its end by one fiber and watched by one timer.
 *
 * The reader fiber takes the provider's parts as they come and keeps them until the first token;
 * then `read` returns, and from there every part goes to a mailbox the caller's stream takes from
 * (the head first), while the answer gathers in `Reading` for the cache and the telemetry. The
 * timer holds both deadlines: the first token within `firstTokenMs` of the start (a failure of the
 * attempt, which may be retried), then no gap between parts longer than `idleMs` (the end of the
 * caller's stream). It wakes once per deadline at most; a part costs a clock read and a mailbox
 * offer.
 *
 * Not `Stream.timeoutFail`: it races every pull against a sleep, a fiber and a timer per part
 * (about a quarter of a millisecond per part, measured). Not a race for the first token and a
 * second fiber to read ahead after it either: one reader fiber for both saves two fibers per
 * attempt and a trip between them.
 */
import type * as Response from "@effect/ai/Response"
import { Cause, Chunk, type Clock, Deferred, Effect, Exit, Fiber, Mailbox, Option, type Scope, Stream } from "effect"
import type { LlmError } from "../services/LlmError.js"

export type Part = Response.StreamPart<{}>

/** The answer as read so far, and how its stream ended. */
export interface Reading {
  /** Response metadata parts, in order. */
  readonly metadata: Array<Part>
  text: string
  finish: Response.FinishPart | undefined
  /** The provider's stream ended normally. */
  complete: boolean
  /** What ended the caller's stream after its first token, if anything did. */
  failure: LlmError | undefined
}

/** An attempt whose stream delivered its first token, or ended without one. */
export interface Opened {
  /** The parts from the first, for the caller; fails with the `failure` that ends it. */
  readonly parts: Stream.Stream<Part, LlmError>
  readonly reading: Reading
}

export interface ReadOptions {
  readonly clock: Clock.Clock
  readonly firstTokenMs: number
  readonly idleMs: number
  /** Text that arrived after the first token was handed over (the first token's text included). */
  readonly onText: (added: string) => Effect.Effect<void>
  /** Any failure of the provider's stream as an `LlmError` (with its side effects). */
  readonly failure: (cause: unknown) => Effect.Effect<never, LlmError>
  readonly firstTokenTimeout: () => LlmError
  readonly idleTimeout: () => LlmError
  /** The error that ends the caller's stream after its first token, given what ended it. */
  readonly interrupted: (reading: Reading, cause: LlmError) => LlmError
}

const isToken = (part: Part): boolean => part.type === "text-delta" && part.delta.length > 0

/** Adds `parts` to the reading; the text they add. */
const gather = (reading: Reading, parts: Iterable<Part>): string => {
  let added = ""
  for (const part of parts) {
    if (part.type === "text-delta") added += part.delta
    else if (part.type === "finish") reading.finish = part
    else if (part.type === "response-metadata") reading.metadata.push(part)
  }
  reading.text += added
  return added
}

/**
 * Starts reading `source` in the scope and waits for its first token (or its end). Fails with the
 * attempt's `LlmError` when the stream fails or times out before that (closing the scope then
 * stops the timer).
 */
export const read = (source: Stream.Stream<Part, unknown>, options: ReadOptions): Effect.Effect<Opened, LlmError, Scope.Scope> =>
  Effect.gen(function*() {
    const { clock } = options
    const reading: Reading = { metadata: [], text: "", finish: undefined, complete: false, failure: undefined }
    const mailbox = yield* Effect.acquireRelease(Mailbox.make<Part, LlmError>(), (m) => m.shutdown)
    const opened = yield* Deferred.make<Opened, LlmError>()
    const result: Opened = { parts: Mailbox.toStream(mailbox), reading }
    const started = clock.unsafeCurrentTimeMillis()
    let head: Array<Part> | undefined = []
    let last = started
    let done = false

    // Only chunks go into the mailbox: an array is kept by reference and, in effect 3.22, offered
    // again with each later chunk until the reader takes it.
    const handOver = (parts: Chunk.Chunk<Part>): Effect.Effect<void> => {
      last = clock.unsafeCurrentTimeMillis()
      const added = gather(reading, parts)
      mailbox.unsafeOfferAll(parts)
      return added.length === 0 ? Effect.void : options.onText(added)
    }
    const onChunk = (chunk: Chunk.Chunk<Part>): Effect.Effect<void> => {
      if (head === undefined) return handOver(chunk)
      let token = false
      for (const part of chunk) {
        head.push(part)
        token ||= isToken(part)
      }
      if (!token) return Effect.void
      const first = Chunk.unsafeFromArray(head)
      head = undefined
      Deferred.unsafeDone(opened, Exit.succeed(result))
      return handOver(first)
    }
    const ended = (exit: Exit.Exit<void, LlmError>): Effect.Effect<void> =>
      Effect.sync(() => {
        done = true
        if (head !== undefined) {
          // Before any token the outcome is the attempt's; an answer without text is handed over.
          if (Exit.isFailure(exit)) return Deferred.unsafeDone(opened, Exit.failCause(exit.cause))
          reading.complete = true
          gather(reading, head)
          mailbox.unsafeOfferAll(Chunk.unsafeFromArray(head))
          mailbox.unsafeDone(Exit.void)
          return Deferred.unsafeDone(opened, Exit.succeed(result))
        }
        if (Exit.isSuccess(exit)) {
          reading.complete = true
          return mailbox.unsafeDone(Exit.void)
        }
        const error = Cause.failureOption(exit.cause)
        if (Option.isNone(error)) return mailbox.unsafeDone(exit)
        reading.failure = options.interrupted(reading, error.value)
        mailbox.unsafeDone(Exit.fail(reading.failure))
      })
    // A pull loop: `Stream.runForEachChunk` measured at about a third more Effect steps per part.
    const reader = yield* Stream.toPull(source).pipe(
      Effect.flatMap((pull) => Effect.forever(Effect.flatMap(pull, onChunk))),
      Effect.catchAll((end) => Option.isNone(end) ? Effect.void : options.failure(end.value)),
      Effect.exit,
      Effect.flatMap(ended),
      Effect.forkScoped
    )

    // One deadline at a time: the first token's, then the idle gap's. Before the first token it
    // wakes at least once per idle gap, so the idle deadline the first token sets is not missed.
    const timer: Effect.Effect<void> = Effect.suspend(() => {
      if (done) return Effect.void
      const now = clock.unsafeCurrentTimeMillis()
      const waiting = head !== undefined
      const left = waiting ? options.firstTokenMs - (now - started) : options.idleMs - (now - last)
      if (left > 0) return Effect.zipRight(Effect.sleep(waiting ? Math.min(left, options.idleMs) : left), timer)
      done = true
      const error = waiting ? options.firstTokenTimeout() : options.idleTimeout()
      return Effect.zipRight(
        Fiber.interrupt(reader),
        Effect.sync(() => {
          if (waiting) return Deferred.unsafeDone(opened, Exit.fail(error))
          reading.failure = options.interrupted(reading, error)
          mailbox.unsafeDone(Exit.fail(reading.failure))
        })
      )
    })
    yield* Effect.forkScoped(timer)
    return yield* Deferred.await(opened)
  })
