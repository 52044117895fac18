import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Stream, TestClock } from "effect"
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
})
