import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Layer, Stream, TestClock } from "effect"
import * as EventFeed from "../src/agents/eventFeed.js"
import * as RunHistorySqlite from "../src/layers/RunHistorySqlite.js"
import { RunHistory } from "../src/services/RunHistory.js"
import { runEvents, twoSteps } from "./support/historyEvents.js"

const events = (runId: string, start: number) => runEvents({ runId, start, status: "succeeded", steps: twoSteps })

describe("the event feed (what SSE clients read)", () => {
  it.scoped("a slow subscriber is dropped with SubscriberTooSlow once it falls behind; the others get every event", () =>
    Effect.gen(function*() {
      const history = yield* RunHistory
      const feed = yield* EventFeed.make({ capacity: 20, pollInterval: "50 millis" })
      const bursts = [events("r-1", 1_000), events("r-2", 2_000), events("r-3", 3_000)]
      const all = bursts.flat()

      // One second per event: far slower than the events come.
      const slow = yield* feed.subscribe({}).pipe(
        Stream.mapEffect(() => Effect.sleep("1 second")),
        Stream.runDrain,
        Effect.either,
        Effect.fork
      )
      const reader = yield* feed.subscribe({}).pipe(Stream.take(all.length), Stream.runCollect, Effect.fork)
      yield* TestClock.adjust("50 millis")
      for (const burst of bursts) {
        yield* history.recordAll(burst)
        yield* TestClock.adjust("50 millis")
      }

      const got = Chunk.toReadonlyArray(yield* Fiber.join(reader))
      expect(got.map((e) => e.event)).toEqual(all)
      yield* TestClock.adjust("60 seconds")
      const ended = yield* Fiber.join(slow)
      expect(Either.isLeft(ended) && ended.left._tag).toBe("SubscriberTooSlow")
    }).pipe(Effect.provide(RunHistorySqlite.layerMemory)))

  it.scoped("a client resumes after the last position it saw, from the history; a run's stream ends with the run", () =>
    Effect.gen(function*() {
      const history = yield* RunHistory
      const feed = yield* EventFeed.make({ pollInterval: "50 millis" })
      const written = events("r-4", 4_000)
      yield* history.recordAll([...events("other", 3_000), ...written])
      const first = Chunk.toReadonlyArray(yield* feed.subscribe({ runId: "r-4" }).pipe(Stream.take(4), Stream.runCollect))
      const rest = yield* feed.subscribe({ runId: "r-4", after: first[3]!.seq }).pipe(Stream.runCollect)
      expect([...first, ...Chunk.toReadonlyArray(rest)].map((e) => e.event)).toEqual(written)
    }).pipe(Effect.provide(RunHistorySqlite.layerMemory)))

  // With several writers (PostgreSQL), a position can become visible after later ones: its
  // transaction committed last. Here the store hides chosen positions until told otherwise.
  const hiding = (hidden: Set<number>) =>
    Layer.effect(
      RunHistory,
      Effect.map(RunHistory, (history) =>
        RunHistory.of({
          ...history,
          eventsAfter: (options) => Effect.map(history.eventsAfter(options), (page) => page.filter((e) => !hidden.has(e.seq)))
        }))
    ).pipe(Layer.provide(RunHistorySqlite.layerMemory))

  it.scoped("an event whose write commits late is still delivered, in order; one that never commits holds the rest back 2 s at most", () => {
    const hidden = new Set<number>()
    return Effect.gen(function*() {
      const history = yield* RunHistory
      const feed = yield* EventFeed.make({ pollInterval: "50 millis" })
      const reader = yield* feed.subscribe({}).pipe(Stream.take(8), Stream.runCollect, Effect.fork)
      yield* TestClock.adjust("50 millis")
      const start = yield* history.lastEventSeq
      hidden.add(start + 2)
      yield* history.recordAll(events("late", 5_000))
      yield* TestClock.adjust("500 millis")
      hidden.clear()
      hidden.add(start + 6)
      yield* history.recordAll(events("lost", 6_000))
      yield* TestClock.adjust("500 millis")
      yield* TestClock.adjust("2 seconds")
      const got = Chunk.toReadonlyArray(yield* Fiber.join(reader))
      // All of the first run, in order, although its second event showed up late; of the second,
      // everything but the event that never appeared.
      expect(got.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 7, 8, 9].map((n) => start + n))
    }).pipe(Effect.provide(hiding(hidden)))
  })
})
