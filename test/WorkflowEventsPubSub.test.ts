/**
 * The event bus: `publish` delivers every event to every subscriber in order; a sliding bus keeps
 * each subscriber's newest events; the bus counts nothing itself (the LLM layer tallies calls).
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Queue } from "effect"
import * as WorkflowEventsPubSub from "../src/layers/WorkflowEventsPubSub.js"
import * as WorkflowContext from "../src/services/WorkflowContext.js"
import { LlmCallFinished, LlmCallStarted, WorkflowEvents } from "../src/services/WorkflowEvents.js"

const started = (attempt: number) => new LlmCallStarted({ model: "m", provider: "openai", attempt, at: attempt })

const finished = new LlmCallFinished({
  model: "m",
  provider: "openai",
  cached: false,
  attempt: 2,
  usage: { inputTokens: 10, outputTokens: 5 },
  costUsd: 0.25,
  durationMs: 40,
  status: "success",
  at: 50
})

describe("WorkflowEventsPubSub", () => {
  it.scoped("publish delivers every event to every subscriber, in order, and tallies nothing", () =>
    Effect.gen(function*() {
      const events = yield* WorkflowEvents
      const a = yield* events.subscribe
      const b = yield* events.subscribe
      const run = WorkflowContext.makeTally()
      const ctx: WorkflowContext.WorkflowContextValue = { ...WorkflowContext.empty, runId: "r1", run }
      yield* Effect.locally(Effect.zipRight(events.publish(started(1)), events.publish(finished)), WorkflowContext.ref, ctx)
      expect(Chunk.toReadonlyArray(yield* Queue.takeAll(a))).toEqual([started(1), finished])
      expect(Chunk.toReadonlyArray(yield* Queue.takeAll(b))).toEqual([started(1), finished])
      expect(run.calls).toBe(0)
    }).pipe(Effect.provide(WorkflowEventsPubSub.layer)))

  it.scoped("a full sliding bus drops the subscriber's oldest events and never blocks the publisher", () =>
    Effect.gen(function*() {
      const events = yield* WorkflowEvents
      const queue = yield* events.subscribe
      yield* events.publish(started(1))
      yield* events.publish(started(2))
      yield* events.publish(finished)
      expect(Chunk.toReadonlyArray(yield* Queue.takeAll(queue))).toEqual([started(2), finished])
    }).pipe(Effect.provide(WorkflowEventsPubSub.layerSliding(2))))
})
