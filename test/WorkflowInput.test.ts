/**
 * `run` and `runReport` check their input against the workflow's Schema, as the CLI's registry
 * entries do for raw input: an input the types allow but the Schema refuses (`""` for a
 * `NonEmptyString`) fails with `WorkflowInputError` before the run starts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Queue, Schema } from "effect"
import { headline } from "../examples/headline.js"
import * as Workflow from "../src/agents/Workflow.js"
import * as TestLayer from "../src/layers/TestLayer.js"
import { subscribe } from "../src/services/WorkflowEvents.js"
import * as ScriptedModel from "../src/testing/ScriptedModel.js"

const noCalls = Effect.provide(TestLayer.layer({ languageModel: ScriptedModel.layer([]) }))

describe("input validation of typed runs", () => {
  it.scoped("runReport(\"\") on a NonEmptyString workflow fails with WorkflowInputError listing the issue; nothing runs", () =>
    Effect.gen(function*() {
      const events = yield* subscribe
      const error = yield* Effect.flip(headline.runReport(""))
      expect(error._tag).toBe("WorkflowInputError")
      expect(error.workflow).toBe("headline")
      expect(error.summary).toContain("Expected a non empty string")
      expect(error.message).toContain("invalid input for workflow headline")
      expect(Chunk.toReadonlyArray(yield* Queue.takeAll(events))).toEqual([])
      expect(yield* ScriptedModel.calls).toBe(0)
    }).pipe(noCalls))

  it.effect("run(\"\") fails the same way", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(headline.run(""))
      expect(error._tag).toBe("WorkflowInputError")
    }).pipe(noCalls))

  it.effect("a typed input is checked on the Schema's decoded side, so transformed fields are taken as they are", () =>
    Effect.gen(function*() {
      const doubled = Workflow.make(
        "doubled",
        "twice the number",
        Schema.Struct({ n: Schema.NumberFromString.pipe(Schema.positive()) }),
        ({ n }) => Effect.succeed(n * 2)
      )
      expect(yield* doubled.run({ n: 21 })).toBe(42)
      const error = yield* Effect.flip(doubled.runReport({ n: -1 }))
      expect(error._tag === "WorkflowInputError" && error.summary).toContain("[\"n\"]")
      // Raw input (the CLI, the API) is still decoded from its encoded side.
      expect(yield* doubled.decodeInput("{\"n\":\"4\"}")).toEqual({ n: 4 })
    }).pipe(noCalls))
})
