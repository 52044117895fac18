import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Option, Schema } from "effect"
import * as Registry from "../src/agents/registry.js"
import * as Workflow from "../src/agents/Workflow.js"
import { workflowsOf } from "../src/cli/workflowsModule.js"
import { layer as eventsLayer } from "../src/layers/WorkflowEventsPubSub.js"
import * as Fake from "./support/FakeLanguageModel.js"

const echo = Workflow.make("echo", "Say the input back", Schema.NonEmptyString, (text) => Effect.succeed(`echo: ${text}`))
const shout = Workflow.make("shout", "Say it louder", Schema.String, (text) => Effect.succeed(text.toUpperCase()))

describe("WorkflowRegistry", () => {
  it.effect("keeps the given order and finds each workflow by name, typed workflows and built-ins alike", () =>
    Effect.gen(function*() {
      const registry = yield* Registry.make([echo, ...Registry.builtin, shout])
      expect(registry.names).toEqual(["echo", "code", "explore", "research", "summarize", "shout"])
      expect(registry.workflows.map((w) => w.description)[0]).toBe("Say the input back")
      expect(Option.isSome(registry.find("summarize"))).toBe(true)
      expect(Option.isNone(registry.find("triage"))).toBe(true)
    }))

  it.effect("runs a workflow from raw input through its own Schema", () =>
    Effect.gen(function*() {
      const registry = yield* Registry.make([echo])
      const workflow = Option.getOrThrow(registry.find("echo"))
      const report = yield* workflow.runReportUnknown("hi")
      expect(report).toMatchObject({ workflow: "echo", status: "succeeded", output: "echo: hi" })
      const refused = yield* Effect.flip(workflow.validateInput(""))
      expect(refused._tag).toBe("WorkflowInputError")
    }).pipe(Effect.provide(Fake.layer({ respond: () => Effect.succeed("") }).pipe(Layer.provideMerge(eventsLayer)))))

  it.effect("the same workflow given twice is listed once", () =>
    Effect.gen(function*() {
      const once = yield* Registry.make([echo])
      const registry = yield* Registry.make([echo, ...once.workflows, echo])
      expect(registry.names).toEqual(["echo"])
    }))

  it.effect("two different workflows with one name fail with DuplicateWorkflow", () =>
    Effect.gen(function*() {
      const other = Workflow.make("echo", "Another echo", Schema.String, Effect.succeed)
      const error = yield* Effect.flip(Registry.make([echo, other]))
      expect(error._tag).toBe("DuplicateWorkflow")
      expect(error.message).toContain("'echo'")
    }))

  it.effect("the default layer offers the built-ins", () =>
    Effect.gen(function*() {
      const registry = yield* Registry.WorkflowRegistry
      expect(registry.names).toEqual(["code", "explore", "research", "summarize"])
    }).pipe(Effect.provide(Registry.layerBuiltin)))
})

describe("the workflows of a module's exports", () => {
  it("takes a default array and the named workflows, each once, and ignores other exports", () => {
    const found = workflowsOf({ default: [shout], echo, shout, version: "1.0", helper: () => 1 })
    expect(Either.map(found, (ws) => ws.map((w) => w.name))).toEqual(Either.right(["shout", "echo"]))
  })

  it("takes a default export that is one workflow", () => {
    expect(Either.map(workflowsOf({ default: echo }), (ws) => ws.map((w) => w.name))).toEqual(Either.right(["echo"]))
  })

  it("refuses a module without workflows, and a default array holding something else", () => {
    expect(Either.getLeft(workflowsOf({ answer: 42 }))).toEqual(Option.some(expect.stringContaining("exports no workflow")))
    expect(Either.getLeft(workflowsOf({ default: [echo, { name: "x" }] }))).toEqual(
      Option.some(expect.stringContaining("item 1 is not a workflow"))
    )
  })
})
