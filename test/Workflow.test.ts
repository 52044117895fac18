import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Logger, LogLevel, Metric, Queue, Ref, Schema } from "effect"
import * as Agent from "../src/agents/Agent.js"
import * as Workflow from "../src/agents/Workflow.js"
import * as TestLayer from "../src/layers/TestLayer.js"
import { layer as eventsLayer } from "../src/layers/WorkflowEventsPubSub.js"
import { BadRequest, ProviderUnavailable } from "../src/services/LlmError.js"
import * as Metrics from "../src/services/Metrics.js"
import { subscribe, type WorkflowEvent } from "../src/services/WorkflowEvents.js"
import * as Fake from "./support/FakeLanguageModel.js"
import { testConfigLayer } from "./support/config.js"
import { captureLogs } from "./support/logs.js"

const writer = Agent.make({ name: "writer", instructions: "Write.", input: Schema.String, output: "text" })

/** Two LLM calls in two steps. */
const twoSteps = Workflow.make("two-steps", "two steps", Schema.String, (input) =>
  Effect.gen(function*() {
    const a = yield* Workflow.step("first", writer.run(input))
    return yield* Workflow.step("second", writer.run(a))
  }))

const withFake = (options: Fake.FakeOptions) => Effect.provide(Fake.layer(options).pipe(Layer.provideMerge(eventsLayer)))

const drain = (queue: Queue.Dequeue<WorkflowEvent>) => Effect.map(Queue.takeAll(queue), (c) => Array.from(c))

const gaugeValue = Effect.map(Metric.value(Metrics.activeWorkflows), (s) => s.value)

const counterValue = (tags: Record<string, string>) =>
  Effect.map(Metric.value(Metrics.withTags(Metrics.workflowExecutionsTotal, tags)), (s) => s.count)

describe("Workflow.run", () => {
  it.scoped("publishes run and step events carrying the run id, with usage and cost summed from the calls", () =>
    Effect.gen(function*() {
      const events = yield* subscribe
      const output = yield* twoSteps.run("go", { runId: "run-1" })
      expect(output).toBe("second answer")
      const seen = yield* drain(events)
      expect(seen.map((e) => e._tag)).toEqual([
        "WorkflowStarted",
        "StepStarted",
        "LlmCallStarted",
        "LlmCallFinished",
        "StepFinished",
        "StepStarted",
        "LlmCallStarted",
        "LlmCallFinished",
        "StepFinished",
        "WorkflowFinished"
      ])
      const calls = seen.filter((e) => e._tag === "LlmCallFinished")
      expect(calls.map((e) => [e.runId, e.stepId, e.agent])).toEqual([["run-1", "step-1", "writer"], [
        "run-1",
        "step-2",
        "writer"
      ]])
      const steps = seen.filter((e) => e._tag === "StepFinished")
      expect(steps.map((s) => [s.label, s.agent, s.status, s.costUsd, s.usage.inputTokens])).toEqual([
        ["first", "writer", "succeeded", 0.25, 10],
        ["second", "writer", "succeeded", 0.25, 10]
      ])
      const finished = seen.at(-1)
      expect(finished?._tag).toBe("WorkflowFinished")
      if (finished?._tag !== "WorkflowFinished") return
      expect(finished.status).toBe("succeeded")
      expect(finished.output).toBe("second answer")
      expect(finished.costUsd).toBe(0.5)
      expect(finished.usage).toEqual({ inputTokens: 20, outputTokens: 10 })
    }).pipe(withFake({ respond: Fake.sequence("first answer", "second answer"), events: { costUsdPerCall: 0.25 } })))

  it.effect("records the step's attempts and cache use from the LLM layer's events", () =>
    Effect.gen(function*() {
      const report = yield* twoSteps.runReport("go")
      expect(report.steps.map((s) => [s.attempts, s.cached, s.calls])).toEqual([[0, true, 1], [0, true, 1]])
    }).pipe(withFake({ respond: Fake.sequence("a", "b"), events: { cached: true } })))

  it.effect("counts retried attempts of a step", () =>
    Effect.gen(function*() {
      const report = yield* twoSteps.runReport("go")
      expect(report.steps.map((s) => s.attempts)).toEqual([3, 3])
    }).pipe(withFake({ respond: Fake.sequence("a", "b"), events: { attempt: 3 } })))

  it.effect("reports a run as the --json result object", () =>
    Effect.gen(function*() {
      const report = yield* twoSteps.runReport("go", { runId: "r-json" })
      expect(report).toMatchObject({
        id: "r-json",
        workflow: "two-steps",
        status: "succeeded",
        output: "b",
        usage: { inputTokens: 20, outputTokens: 10 },
        costUsd: 0.2
      })
      expect(report.steps.map((s) => ({ agent: s.agent, status: s.status, cached: s.cached, attempts: s.attempts })))
        .toEqual([
          { agent: "writer", status: "succeeded", cached: false, attempts: 1 },
          { agent: "writer", status: "succeeded", cached: false, attempts: 1 }
        ])
    }).pipe(withFake({ respond: Fake.sequence("a", "b"), events: { costUsdPerCall: 0.1 } })))

  it.scoped("records a failed run with the error's tag and counts it as failed", () =>
    Effect.gen(function*() {
      const before = yield* counterValue({ workflow: "two-steps", status: "failed" })
      const events = yield* subscribe
      const error = yield* Effect.flip(twoSteps.run("go"))
      expect(error._tag).toBe("BadRequest")
      const seen = yield* drain(events)
      const step = seen.find((e) => e._tag === "StepFinished")
      expect(step?._tag === "StepFinished" && step.status).toBe("failed")
      const finished = seen.at(-1)
      expect(finished?._tag === "WorkflowFinished" && finished.error?.tag).toBe("BadRequest")
      expect(finished?._tag === "WorkflowFinished" && finished.status).toBe("failed")
      expect(yield* counterValue({ workflow: "two-steps", status: "failed" })).toBe(before + 1)
    }).pipe(withFake({
      respond: () => Effect.fail(new BadRequest({ provider: "p", model: "m", status: 400, detail: "no" }))
    })))

  it.scoped("records cancelled when interrupted mid-call and puts active_workflows back", () =>
    Effect.gen(function*() {
      const baseline = yield* gaugeValue
      const events = yield* subscribe
      const fiber = yield* Effect.fork(twoSteps.run("go", { runId: "cancel-me" }))
      const started = yield* Fake.FakeCalls
      // Wait until the model call is in flight.
      while (started.all().length === 0) yield* Effect.yieldNow()
      expect(yield* gaugeValue).toBe(baseline + 1)
      yield* Fiber.interrupt(fiber)
      expect(yield* gaugeValue).toBe(baseline)
      const seen = yield* drain(events)
      const finished = seen.at(-1)
      expect(finished?._tag).toBe("WorkflowFinished")
      expect(finished?._tag === "WorkflowFinished" && finished.status).toBe("cancelled")
      const step = seen.find((e) => e._tag === "StepFinished")
      expect(step?._tag === "StepFinished" && step.status).toBe("cancelled")
    }).pipe(withFake({ respond: () => Effect.never })))

  it.effect("keeps active_workflows correct across many concurrent runs, some cancelled", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      yield* Effect.gen(function*() {
        const baseline = yield* gaugeValue
        const fibers = yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (i) => Effect.fork(twoSteps.run(`run ${i}`)),
          { concurrency: "unbounded" }
        )
        const calls = yield* Fake.FakeCalls
        while (calls.all().length < 50) yield* Effect.yieldNow()
        expect(yield* gaugeValue).toBe(baseline + 50)
        yield* Effect.forEach(fibers.slice(0, 20), Fiber.interrupt)
        expect(yield* gaugeValue).toBe(baseline + 30)
        yield* Deferred.succeed(gate, undefined)
        yield* Effect.forEach(fibers.slice(20), Fiber.join)
        expect(yield* gaugeValue).toBe(baseline)
      }).pipe(withFake({ respond: () => Effect.as(Deferred.await(gate), "ok") }))
    }))
})

describe("budget", () => {
  it.scoped("fails the run with BudgetExceeded before the call that would exceed it", () =>
    Effect.gen(function*() {
      const events = yield* subscribe
      const error = yield* Effect.flip(twoSteps.run("go", { maxCostUsd: 0.01 }))
      expect(error._tag).toBe("BudgetExceeded")
      const calls = yield* Fake.FakeCalls
      expect(calls.all()).toHaveLength(1)
      const seen = yield* drain(events)
      const finished = seen.at(-1)
      expect(finished?._tag === "WorkflowFinished" && finished.error?.tag).toBe("BudgetExceeded")
      expect(finished?._tag === "WorkflowFinished" && finished.costUsd).toBe(0.01)
    }).pipe(withFake({ respond: Fake.sequence("a", "b"), events: { costUsdPerCall: 0.01 } })))

  it.effect("takes the budget from WORKFLOW_MAX_COST_USD", () =>
    Effect.gen(function*() {
      const report = yield* twoSteps.runReport("go")
      expect(report.status).toBe("failed")
      expect(report.error?.tag).toBe("BudgetExceeded")
    }).pipe(
      withFake({ respond: Fake.sequence("a", "b"), events: { costUsdPerCall: 0.05 } }),
      Effect.provide(testConfigLayer({ WORKFLOW_MAX_COST_USD: "0.04" }))
    ))

  it.effect("lets a run that stays under budget finish", () =>
    Effect.gen(function*() {
      const report = yield* twoSteps.runReport("go", { maxCostUsd: 1 })
      expect(report.status).toBe("succeeded")
    }).pipe(withFake({ respond: Fake.sequence("a", "b"), events: { costUsdPerCall: 0.01 } })))
})

describe("combinators", () => {
  it.effect("loop stops at maxIterations and returns the last state", () =>
    Effect.gen(function*() {
      const iterations = yield* Ref.make(0)
      const result = yield* Workflow.loop({ maxIterations: 3, initial: 0 }, (n) =>
        Effect.as(Ref.update(iterations, (i) => i + 1), { state: n + 1, done: false }))
      expect(result).toBe(3)
      expect(yield* Ref.get(iterations)).toBe(3)
    }))

  it.effect("loop stops as soon as the body is done", () =>
    Effect.gen(function*() {
      const result = yield* Workflow.loop(
        { maxIterations: 10, initial: "" },
        (s, i) => Effect.succeed({ state: `${s}${i}`, done: i === 2 })
      )
      expect(result).toBe("12")
    }))

  it.effect("parallel never runs more than `concurrency` items at once and keeps input order", () =>
    Effect.gen(function*() {
      let running = 0
      let peak = 0
      const results = yield* Workflow.parallel(
        Array.from({ length: 12 }, (_, i) => i),
        (i) =>
          Effect.gen(function*() {
            running++
            peak = Math.max(peak, running)
            for (let k = 0; k < 5; k++) yield* Effect.yieldNow()
            running--
            return i * 2
          }),
        { concurrency: 3 }
      )
      expect(peak).toBe(3)
      expect(results).toEqual(Array.from({ length: 12 }, (_, i) => i * 2))
    }))

  it.effect("step outside a run just runs its effect", () =>
    Effect.gen(function*() {
      expect(yield* Workflow.step("alone", Effect.succeed(1))).toBe(1)
    }).pipe(Effect.provide(eventsLayer)))
})

describe("decodeInput", () => {
  const structured = Workflow.make(
    "structured",
    "takes an object",
    Schema.Struct({ topic: Schema.String }),
    (input) => Effect.succeed(input.topic)
  )

  it.effect("accepts JSON text for a structured input", () =>
    Effect.gen(function*() {
      expect(yield* structured.decodeInput(`{"topic":"owls"}`)).toEqual({ topic: "owls" })
      expect(yield* structured.decodeInput({ topic: "bats" })).toEqual({ topic: "bats" })
    }))

  it.effect("fails with WorkflowInputError naming the workflow", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(structured.decodeInput("not an object"))
      expect(error._tag).toBe("WorkflowInputError")
      expect(error.workflow).toBe("structured")
    }))
})

describe("log lines", () => {
  it.effect("carry the run, workflow, step and agent inside an agent's LLM call, and the attempt on a retry", () => {
    const logs = captureLogs()
    // The provider fails once, so the resilient layer logs a retry, then answers.
    const model = Fake.layer({
      respond: Fake.sequence(Effect.fail(new ProviderUnavailable({ provider: "fake", model: "m", detail: "503" })), "one", "two")
    }).pipe(Layer.provide(eventsLayer))
    return Effect.gen(function*() {
      yield* twoSteps.run("go", { runId: "run-logs" })
      const retry = logs.lines.find((l) => l.text === "LLM attempt failed; retrying")
      expect(retry?.annotations).toMatchObject({ runId: "run-logs", workflow: "two-steps", stepId: "step-1", agent: "writer", attempt: 1 })
      const finished = logs.lines.filter((l) => l.text === "LLM call finished")
      expect(finished.map((l) => [l.annotations["runId"], l.annotations["workflow"], l.annotations["stepId"], l.annotations["agent"]]))
        .toEqual([["run-logs", "two-steps", "step-1", "writer"], ["run-logs", "two-steps", "step-2", "writer"]])
      // Outside the run nothing is attributed to it.
      yield* Effect.logInfo("after the run")
      expect(logs.lines.at(-1)?.annotations).toEqual({})
    }).pipe(
      Effect.provide(logs.layer),
      Logger.withMinimumLogLevel(LogLevel.Debug),
      Effect.provide(TestLayer.layer({
        languageModel: model,
        env: { RETRY_INITIAL_WAIT: "0.001", RETRY_MAX_WAIT: "0.001", CACHE_ENABLED: "false" }
      }))
    )
  })
})
