import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Prompt from "@effect/ai/Prompt"
import type * as Response from "@effect/ai/Response"
import * as Tool from "@effect/ai/Tool"
import * as Toolkit from "@effect/ai/Toolkit"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Metric, type MetricState, Ref, Schema, TestClock, Tracer } from "effect"
import * as Agent from "../src/agents/Agent.js"
import * as ToolCall from "../src/agents/ToolCall.js"
import { layer as eventsLayer } from "../src/layers/WorkflowEventsPubSub.js"
import * as Metrics from "../src/services/Metrics.js"
import * as WorkflowContext from "../src/services/WorkflowContext.js"
import * as WorkflowEvents from "../src/services/WorkflowEvents.js"
import * as ScriptedModel from "../src/testing/ScriptedModel.js"

class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { path: Schema.String }) {}

const ReadFile = Tool.make("readFile", {
  description: "Reads a file",
  parameters: { path: Schema.String },
  success: Schema.String,
  failure: NotFound,
  failureMode: "return"
})
const Strict = Tool.make("strictRead", {
  parameters: { path: Schema.String },
  success: Schema.String,
  failure: NotFound
})
const Slow = Tool.make("slow", { parameters: { n: Schema.Number }, success: Schema.Number })

const files: Record<string, string> = { "a.txt": "alpha", "b.txt": "beta" }
const readFile = (path: string) => (path in files ? Effect.succeed(files[path]!) : Effect.fail(new NotFound({ path })))

const toolkit = Toolkit.make(ReadFile, Strict)
const handlers = toolkit.toLayer({ readFile: ({ path }) => readFile(path), strictRead: ({ path }) => readFile(path) })

const reader = Agent.make({
  name: "reader",
  instructions: "Read files, then answer.",
  input: Schema.String,
  output: "text",
  tools: toolkit,
  maxSteps: 3
})

/** A model answering from the prompt it gets: tool calls or text, recording every prompt. */
const modelFrom = (respond: (prompt: Prompt.Prompt, index: number) => Array<Response.PartEncoded>) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const prompts = yield* Ref.make<ReadonlyArray<Prompt.Prompt>>([])
    const model = yield* LanguageModel.make({
      generateText: (options) =>
        Effect.map(Ref.getAndUpdate(prompts, (ps) => [...ps, options.prompt]), (ps) => respond(options.prompt, ps.length)),
      streamText: () => {
        throw new Error("not streamed")
      }
    })
    return Layer.succeed(LanguageModel.LanguageModel, model)
  }))

const usage = { inputTokens: 1, outputTokens: 1, totalTokens: 2 }
const call = (id: string, name: string, params: unknown): Response.PartEncoded => ({ type: "tool-call", id, name, params })
const text = (t: string): Array<Response.PartEncoded> => [{ type: "text", text: t }, { type: "finish", reason: "stop", usage }]

/** The tool results of the last tool message of a prompt. */
const lastResults = (prompt: Prompt.Prompt) => {
  const tool = [...prompt.content].reverse().find((m) => m.role === "tool")
  return tool?.role === "tool" ? tool.content.map((p) => ({ name: p.name, isFailure: p.isFailure, result: p.result })) : []
}

const collect = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const queue = yield* WorkflowEvents.subscribe
    const exit = yield* Effect.exit(effect)
    const events = yield* Effect.map(queue.takeAll, (c) => Array.from(c))
    return { exit, events }
  })

const counter = (tags: Record<string, string>) =>
  Effect.map(
    Metric.value(Metrics.withTags(Metrics.agentToolCallsTotal, tags)),
    (s: MetricState.MetricState.Counter<number>) => s.count
  )

describe("Agent with tools", () => {
  it.scoped("runs the tool calls the model asks for and gives it the results until it answers", () =>
    Effect.gen(function*() {
      const before = yield* counter({ agent: "reader", tool: "readFile", status: "success" })
      const { events, exit } = yield* collect(reader.run("what is in a.txt and b.txt?"))
      expect(exit._tag === "Success" && exit.value).toBe("a.txt says alpha")
      const tools = events.filter((e) => e._tag === "ToolCallStarted" || e._tag === "ToolCallFinished")
      // Each call is started before it is finished; the two may interleave.
      for (const id of ["c1", "c2"]) {
        expect(tools.filter((e) => e.callId === id).map((e) => e._tag)).toEqual(["ToolCallStarted", "ToolCallFinished"])
      }
      const finished = tools.filter((e) => e._tag === "ToolCallFinished").sort((a, b) => a.callId.localeCompare(b.callId))
      expect(finished.map((e) => [e.status, e.arguments, e.result])).toEqual([
        ["success", "{\"path\":\"a.txt\"}", "alpha"],
        ["success", "{\"path\":\"b.txt\"}", "beta"]
      ])
      expect(yield* counter({ agent: "reader", tool: "readFile", status: "success" })).toBe(before + 2)
    }).pipe(
      Effect.provide(modelFrom((prompt, i) =>
        i === 0
          ? [call("c1", "readFile", { path: "a.txt" }), call("c2", "readFile", { path: "b.txt" }), { type: "finish", reason: "tool-calls", usage }]
          : text(`a.txt says ${lastResults(prompt)[0]?.result}`)
      )),
      Effect.provide(handlers),
      Effect.provide(eventsLayer)
    ))

  it.effect("hands a failing tool's error back to the model when the tool says \"return\"", () =>
    Effect.gen(function*() {
      const answer = yield* reader.run("read missing.txt")
      expect(JSON.parse(answer)).toEqual([{ name: "readFile", isFailure: true, result: { _tag: "NotFound", path: "missing.txt" } }])
    }).pipe(
      Effect.provide(modelFrom((prompt, i) =>
        i === 0 ? [call("c1", "readFile", { path: "missing.txt" })] : text(JSON.stringify(lastResults(prompt)))
      )),
      Effect.provide(handlers)
    ))

  it.effect("fails with the tool's own error when the tool says \"error\"", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(reader.run("read missing.txt strictly"))
      expect(error).toEqual(new NotFound({ path: "missing.txt" }))
    }).pipe(Effect.provide(ScriptedModel.layer([ScriptedModel.toolCalls([{ name: "strictRead", params: { path: "missing.txt" } }])])), Effect.provide(handlers)))

  it.effect("rejects a response calling a tool the agent does not have as malformed, running nothing", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(reader.run("delete everything"))
      expect(error._tag).toBe("MalformedResponse")
    }).pipe(
      Effect.provide(modelFrom((prompt, i) =>
        i === 0 ? [call("c1", "rm", { path: "/" })] : text(JSON.stringify(lastResults(prompt)))
      )),
      Effect.provide(handlers)
    ))

  it.effect("stops after maxSteps model calls with MaxStepsExceeded and the transcript so far", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(reader.run("loop forever"))
      expect(error._tag).toBe("MaxStepsExceeded")
      if (error._tag !== "MaxStepsExceeded") return
      expect(error.maxSteps).toBe(3)
      // system, user, then (assistant tool calls, tool results) twice, and the third unanswered call
      expect(error.transcript.map((m) => (m as { role: string }).role)).toEqual([
        "system", "user", "assistant", "tool", "assistant", "tool", "assistant"
      ])
      expect(yield* ScriptedModel.calls).toBe(3)
    }).pipe(
      Effect.provide(ScriptedModel.layer([1, 2, 3].map(() => ScriptedModel.toolCalls([{ name: "readFile", params: { path: "a.txt" } }])))),
      Effect.provide(handlers)
    ))

  it.effect("runs the independent calls of a step concurrently, at most toolConcurrency at a time", () =>
    Effect.gen(function*() {
      const inFlight = yield* Ref.make(0)
      const most = yield* Ref.make(0)
      const slowKit = Toolkit.make(Slow)
      const agent = Agent.make({ name: "slowpoke", instructions: "", input: Schema.String, output: "text", tools: slowKit, toolConcurrency: 2 })
      const slowHandlers = slowKit.toLayer({
        slow: ({ n }) =>
          Effect.gen(function*() {
            const now = yield* Ref.updateAndGet(inFlight, (k) => k + 1)
            yield* Ref.update(most, (m) => Math.max(m, now))
            yield* Effect.sleep("1 second")
            yield* Ref.update(inFlight, (k) => k - 1)
            return n * 2
          })
      })
      const fiber = yield* Effect.fork(agent.run("go").pipe(
        Effect.provide(slowHandlers),
        Effect.provide(ScriptedModel.layer([
          ScriptedModel.toolCalls([1, 2, 3, 4, 5].map((n) => ({ name: "slow", params: { n } }))),
          ScriptedModel.answer("done")
        ]))
      ))
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe("done")
      expect(yield* Ref.get(most)).toBe(2)
    }))

  it.effect("decodes a structured answer given after the tools", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "counter",
        instructions: "",
        input: Schema.String,
        output: Schema.Struct({ letters: Schema.Number }),
        tools: toolkit
      })
      expect(yield* agent.run("how long is a.txt?")).toEqual({ letters: 5 })
    }).pipe(
      Effect.provide(ScriptedModel.layer([
        ScriptedModel.toolCalls([{ name: "readFile", params: { path: "a.txt" } }]),
        ScriptedModel.answer({ letters: 5 })
      ])),
      Effect.provide(handlers)
    ))

  it.effect("traces each call as a Tool.<name> span with GenAI attributes and no arguments", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.Span> = []
      const base = yield* Effect.tracer
      const exporting = Tracer.make({
        span: (...args) => {
          const span = base.span(...args)
          spans.push(span)
          return span
        },
        context: base.context
      })
      yield* Effect.withTracer(reader.run("a.txt?"), exporting)
      const tool = spans.find((s) => s.name === "Tool.readFile")
      expect(tool !== undefined && Object.fromEntries(tool.attributes)).toEqual({
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "readFile",
        "gen_ai.tool.call.id": "call_1_1",
        "gen_ai.agent.name": "reader"
      })
      expect(spans.some((s) => s.name === "Toolkit.handle")).toBe(false)
    }).pipe(
      Effect.provide(ScriptedModel.layer([
        ScriptedModel.toolCalls([{ name: "readFile", params: { path: "a.txt" } }]),
        ScriptedModel.answer("alpha")
      ])),
      Effect.provide(handlers)
    ))

  it.effect("gives the model a call's arguments back in the form it sent them, when the tool's Schema transforms them", () =>
    Effect.gen(function*() {
      const Repeat = Tool.make("repeat", { parameters: { times: Schema.NumberFromString }, success: Schema.String })
      const kit = Toolkit.make(Repeat)
      const agent = Agent.make({ name: "repeater", instructions: "", input: Schema.String, output: "text", tools: kit })
      const answer = yield* agent.run("say it thrice").pipe(
        Effect.provide(kit.toLayer({ repeat: ({ times }) => Effect.succeed("ha".repeat(times)) })),
        Effect.provide(modelFrom((prompt, i) => {
          if (i === 0) return [call("c1", "repeat", { times: "3" }), { type: "finish", reason: "tool-calls", usage }]
          const assistant = prompt.content.find((m) => m.role === "assistant")
          const sent = assistant?.role === "assistant" ? assistant.content.find((p) => p.type === "tool-call") : undefined
          return text(`${JSON.stringify(sent?.type === "tool-call" && sent.params)} gave ${lastResults(prompt)[0]?.result}`)
        }))
      )
      expect(answer).toBe("{\"times\":\"3\"} gave hahaha")
      // Arguments of a Schema that neither transforms nor refines are their own encoded form: not copied.
      const plain = { path: "a.txt" }
      expect(ToolCall.encodeParams(toolkit.tools, "readFile", plain)).toBe(plain)
      expect(ToolCall.encodeParams(kit.tools, "repeat", { times: 3 })).toEqual({ times: "3" })
    }))

  it.scoped("records a tool call cut short by the agent's interruption as cancelled", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const Wait = Tool.make("wait", { parameters: {}, success: Schema.String })
      const kit = Toolkit.make(Wait)
      const agent = Agent.make({ name: "waiter", instructions: "", input: Schema.String, output: "text", tools: kit })
      const before = yield* counter({ agent: "waiter", tool: "wait", status: "cancelled" })
      const queue = yield* WorkflowEvents.subscribe
      const fiber = yield* Effect.fork(agent.run("wait for it").pipe(
        Effect.provide(kit.toLayer({ wait: () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never) }))
      ))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      const events = Array.from(yield* queue.takeAll).filter((e) => e._tag === "ToolCallStarted" || e._tag === "ToolCallFinished")
      expect(events.map((e) => [e._tag, e._tag === "ToolCallFinished" ? e.status : undefined])).toEqual([
        ["ToolCallStarted", undefined],
        ["ToolCallFinished", "cancelled"]
      ])
      expect(yield* counter({ agent: "waiter", tool: "wait", status: "cancelled" })).toBe(before + 1)
    }).pipe(
      Effect.provide(ScriptedModel.layer([ScriptedModel.toolCalls([{ name: "wait", params: {} }])])),
      Effect.provide(eventsLayer)
    ))

  it.effect("labels events with the run and step it happens in", () =>
    Effect.gen(function*() {
      const { events } = yield* collect(reader.run("a.txt?").pipe(WorkflowContext.withStep("s1")))
      const started = events.find((e) => e._tag === "ToolCallStarted")
      expect(started?._tag === "ToolCallStarted" && started.stepId).toBe("s1")
    }).pipe(
      Effect.provide(ScriptedModel.layer([
        ScriptedModel.toolCalls([{ name: "readFile", params: { path: "a.txt" } }]),
        ScriptedModel.answer("alpha")
      ])),
      Effect.provide(handlers),
      Effect.provide(eventsLayer),
      Effect.scoped
    ))
})
