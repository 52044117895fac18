/**
 * The event bus: `publish` and its synchronous twin `unsafePublish` (used by the LLM layer's hot
 * path) deliver the same events and count finished calls in the publisher's run and steps once;
 * where the bus has no room, `unsafePublish` declines and `publish` applies the bus's strategy.
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

/** A context with a run and one step, each with its own tally. */
const contextWithTallies = () => {
  const run = WorkflowContext.makeTally()
  const step = WorkflowContext.makeTally()
  const ctx: WorkflowContext.WorkflowContextValue = { ...WorkflowContext.empty, runId: "r1", run, steps: [step] }
  return { ctx, run, step }
}

describe("WorkflowEventsPubSub", () => {
  it.scoped("unsafePublish delivers like publish and counts a finished call in the run and its steps once", () =>
    Effect.gen(function*() {
      const events = yield* WorkflowEvents
      const queue = yield* events.subscribe
      const { ctx, run, step } = contextWithTallies()
      expect(events.unsafePublish?.(started(1), ctx)).toBe(true)
      expect(events.unsafePublish?.(finished, ctx)).toBe(true)
      expect(Chunk.toReadonlyArray(yield* Queue.takeAll(queue))).toEqual([started(1), finished])
      for (const tally of [run, step]) {
        expect(tally).toMatchObject({ calls: 1, attempts: 2, inputTokens: 10, outputTokens: 5, costUsd: 0.25 })
      }
    }).pipe(Effect.provide(WorkflowEventsPubSub.layer)))

  it.scoped("a full sliding bus declines unsafePublish; publish then drops the oldest, and counts the call", () =>
    Effect.gen(function*() {
      const events = yield* WorkflowEvents
      const queue = yield* events.subscribe
      const { ctx, run } = contextWithTallies()
      expect(events.unsafePublish?.(started(1), ctx)).toBe(true)
      expect(events.unsafePublish?.(started(2), ctx)).toBe(true)
      // Full: nothing is published and nothing counted, so the caller's `publish` does both.
      expect(events.unsafePublish?.(finished, ctx)).toBe(false)
      expect(run.calls).toBe(0)
      yield* events.publish(finished).pipe(Effect.locally(WorkflowContext.ref, ctx))
      expect(Chunk.toReadonlyArray(yield* Queue.takeAll(queue))).toEqual([started(2), finished])
      expect(run.calls).toBe(1)
    }).pipe(Effect.provide(WorkflowEventsPubSub.layerSliding(2))))
})
