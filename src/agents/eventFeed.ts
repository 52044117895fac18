/**
 * The event feed: the history's event log as a live stream, for the API's SSE endpoints.
 *
 * One fiber per process follows the log (`RunHistory.eventsAfter`) while anyone listens and hands
 * each entry to every subscriber's own bounded queue. Following the log rather than the in-process
 * bus gives every event a position that survives the process (an SSE client resumes with
 * `Last-Event-ID` from the history) and shows the runs of every process writing the same store.
 *
 * A subscriber that falls `capacity` entries behind is dropped — its stream ends with
 * `SubscriberTooSlow` — so a stuck client never holds back the others or the runs; it reconnects
 * and resumes from where it was, from the history.
 */
import { Chunk, Clock, Duration, Effect, Option, Queue, Schema, Stream } from "effect"
import { type LoggedEvent, RunHistory, type RunHistoryError } from "../services/RunHistory.js"

/** A subscriber fell too far behind and was dropped; it may resume from the history. */
export class SubscriberTooSlow extends Schema.TaggedError<SubscriberTooSlow>()("SubscriberTooSlow", {
  capacity: Schema.Number
}) {
  override get message(): string {
    return `the event stream fell ${this.capacity} events behind and was closed; reconnect with Last-Event-ID to resume`
  }
}

/** Tuning of the feed. */
export interface FeedOptions {
  /** How often the log is read while someone listens (default 50 ms). */
  readonly pollInterval?: Duration.DurationInput
  /** Entries a subscriber may fall behind before it is dropped (default 10 000). */
  readonly capacity?: number
}

/** What a subscriber asks for. */
export interface FeedRequest {
  /** Entries after this position; default: from now on (or, with `runId`, from the run's start). */
  readonly after?: number
  /** Only this run's events. */
  readonly runId?: string
}

interface Subscriber {
  readonly queue: Queue.Queue<LoggedEvent>
  dropped: boolean
}

const PAGE = 1_000
const GAP_WAIT = 2_000

/** The feed over the current `RunHistory`; its follower runs in the scope. */
export const make = (options: FeedOptions = {}) =>
  Effect.gen(function*() {
    const history = yield* RunHistory
    const capacity = options.capacity ?? 10_000
    const interval = Duration.decode(options.pollInterval ?? Duration.millis(50))
    const subscribers = new Set<Subscriber>()
    // Where the follower is in the log; unset while nobody listens, so an idle feed reads nothing.
    let position: number | undefined

    // A subscriber that leaves meanwhile has its queue shut down, where an offer is an interruption:
    // caught per subscriber (`exit`), so it never ends the follower that serves the others.
    const deliver = (entries: ReadonlyArray<LoggedEvent>) =>
      Effect.forEach(Array.from(subscribers), (s) =>
        Effect.exit(Effect.gen(function*() {
          if (s.dropped) return
          for (const entry of entries) {
            if (!(yield* Queue.offer(s.queue, entry))) {
              s.dropped = true
              return yield* Queue.shutdown(s.queue)
            }
          }
        })), { discard: true })

    // Since when the follower has been waiting for a missing position, if it is.
    let gapSince: number | undefined

    // Reads pages until caught up; a failed read is retried on the next round, nothing is skipped.
    // With several writers (PostgreSQL), a transaction can commit after one that took a later
    // position: entries after a missing position are held back until it appears, or for at most
    // `GAP_WAIT` (a rolled-back write leaves a position that never will).
    const follow = Effect.gen(function*() {
      for (;;) {
        if (position === undefined) return
        const page = yield* history.eventsAfter({ after: position, limit: PAGE })
        if (page.length === 0) return
        const now = yield* Clock.currentTimeMillis
        let ready = 0
        while (ready < page.length && page[ready]!.seq === position + ready + 1) ready++
        if (ready < page.length) {
          gapSince ??= now
          if (now - gapSince < GAP_WAIT) {
            if (ready > 0) {
              position = page[ready - 1]!.seq
              yield* deliver(page.slice(0, ready))
            }
            return
          }
        }
        gapSince = undefined
        position = page[page.length - 1]!.seq
        yield* deliver(page)
        if (page.length < PAGE) return
      }
    }).pipe(
      // The recorder already reports an outage of the store; the feed just tries again.
      Effect.catchAll((e: RunHistoryError) => Effect.logDebug(`event feed: ${e.message}; retrying`)),
      Effect.zipRight(Effect.sleep(interval)),
      Effect.forever
    )
    yield* Effect.forkScoped(follow)

    /** Entries of the log from the history, then live; ends with the run's `WorkflowFinished` for a run. */
    const subscribe = (request: FeedRequest): Stream.Stream<LoggedEvent, RunHistoryError | SubscriberTooSlow> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const subscriber: Subscriber = { queue: yield* Queue.dropping<LoggedEvent>(capacity), dropped: false }
        yield* Effect.acquireRelease(
          Effect.sync(() => subscribers.add(subscriber)),
          () =>
            Effect.zipRight(
              Effect.sync(() => {
                subscribers.delete(subscriber)
                if (subscribers.size === 0) position = undefined
              }),
              Queue.shutdown(subscriber.queue)
            )
        )
        const now = position ?? (yield* history.lastEventSeq)
        position ??= now
        // Subscribed first, then the history up to now: whatever the follower delivers meanwhile is
        // also in the history, and the live part skips what was already sent.
        const start = request.after ?? (request.runId === undefined ? now : 0)
        let last = start
        const replay = Stream.paginateChunkEffect(start, (after) =>
          Effect.map(history.eventsAfter({ after, limit: PAGE, ...(request.runId === undefined ? {} : { runId: request.runId }) }), (page) => [
            Chunk.unsafeFromArray(page),
            page.length < PAGE ? Option.none() : Option.some(page[page.length - 1]!.seq)
          ]))
        const live = Stream.fromQueue(subscriber.queue).pipe(
          Stream.concat(Stream.suspend(() => subscriber.dropped ? Stream.fail(new SubscriberTooSlow({ capacity })) : Stream.empty))
        )
        return Stream.concat(replay, live).pipe(
          Stream.filter((entry) => {
            if (entry.seq <= last) return false
            if (request.runId !== undefined && !("runId" in entry.event && entry.event.runId === request.runId)) return false
            last = entry.seq
            return true
          }),
          request.runId === undefined ? (s) => s : Stream.takeUntil((entry) => entry.event._tag === "WorkflowFinished")
        )
      }))

    return { subscribe }
  })

/** The feed of `make`. */
export type EventFeed = Effect.Effect.Success<ReturnType<typeof make>>
