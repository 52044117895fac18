import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Queue } from "effect"
import * as Registry from "../src/agents/registry.js"
import { code, MAX_REVISIONS } from "../src/agents/workflows/code.js"
import { research } from "../src/agents/workflows/research.js"
import { summarize } from "../src/agents/workflows/summarize.js"
import { layer as eventsLayer } from "../src/layers/WorkflowEventsPubSub.js"
import { subscribe } from "../src/services/WorkflowEvents.js"
import * as Fake from "./support/FakeLanguageModel.js"

const withFake = (options: Fake.FakeOptions) => Effect.provide(Fake.layer(options).pipe(Layer.provideMerge(eventsLayer)))

const callsOf = (agent: string) => Effect.map(Fake.FakeCalls, (c) => c.all().filter((call) => call.agent === agent))

const approve = (approved: boolean) => JSON.stringify({ approved, comments: approved ? [] : ["handle empty input"] })

describe("summarize", () => {
  it.scoped("turns text into a summary with one step, publishing the run's events in order", () =>
    Effect.gen(function*() {
      const events = yield* subscribe
      const summary = yield* summarize.run("A long text about owls.", { runId: "sum-1" })
      expect(summary).toBe("Owls are nocturnal.")
      const seen = Array.from(yield* Queue.takeAll(events))
      expect(seen.map((e) => e._tag)).toEqual([
        "WorkflowStarted",
        "StepStarted",
        "LlmCallStarted",
        "LlmCallFinished",
        "StepFinished",
        "WorkflowFinished"
      ])
      expect(seen.every((e) => "runId" in e && e.runId === "sum-1")).toBe(true)
      const [started, stepStarted] = seen
      expect(started?._tag === "WorkflowStarted" && started.input).toBe("A long text about owls.")
      expect(stepStarted?._tag === "StepStarted" && [stepStarted.label, stepStarted.agent]).toEqual([
        "summarize",
        "summarizer"
      ])
      const finished = seen.at(-1)
      expect(finished?._tag === "WorkflowFinished" && [finished.status, finished.output, finished.costUsd]).toEqual([
        "succeeded",
        "Owls are nocturnal.",
        0.001
      ])
    }).pipe(withFake({ respond: Fake.byAgent({ summarizer: () => "Owls are nocturnal." }), events: { costUsdPerCall: 0.001 } })))

  it.effect("rejects empty input", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(summarize.decodeInput(""))
      expect(error._tag).toBe("WorkflowInputError")
    }))
})

describe("research", () => {
  const answers = Fake.byAgent({
    decomposer: () => JSON.stringify({ subQuestions: ["Where?", "When?", "Why?", "How?"] }),
    researcher: (call) => `answer to ${/Sub-question: (.*)/.exec(Fake.promptText(call.prompt))?.[1]}`,
    synthesizer: () => "All together."
  })

  it.effect("answers every sub-question and synthesises, returning question, findings and answer", () =>
    Effect.gen(function*() {
      const result = yield* research.run("Why do owls hoot?")
      expect(result).toEqual({
        question: "Why do owls hoot?",
        findings: [
          { question: "Where?", answer: "answer to Where?" },
          { question: "When?", answer: "answer to When?" },
          { question: "Why?", answer: "answer to Why?" },
          { question: "How?", answer: "answer to How?" }
        ],
        answer: "All together."
      })
      expect(yield* callsOf("researcher")).toHaveLength(4)
      const synthesis = (yield* callsOf("synthesizer"))[0]!
      expect(Fake.promptText(synthesis.prompt)).toContain("answer to How?")
    }).pipe(withFake({ respond: answers })))

  it.effect("records one step per sub-question", () =>
    Effect.gen(function*() {
      const report = yield* research.runReport("Why do owls hoot?")
      expect(report.steps.map((s) => s.label).sort()).toEqual(
        ["answer 1", "answer 2", "answer 3", "answer 4", "decompose", "synthesise"]
      )
    }).pipe(withFake({ respond: answers })))

  it.effect("re-asks when the decomposer returns fewer than three sub-questions", () =>
    Effect.gen(function*() {
      let decompositions = 0
      const result = yield* research.run("Q?").pipe(
        withFake({
          respond: Fake.byAgent({
            decomposer: () =>
              JSON.stringify({ subQuestions: ++decompositions === 1 ? ["only one"] : ["a", "b", "c"] }),
            researcher: () => "ok",
            synthesizer: () => "done"
          })
        })
      )
      expect(decompositions).toBe(2)
      expect(result.findings).toHaveLength(3)
    }))

  it.effect("fails with OutputParseError when the decomposer keeps returning six sub-questions", () =>
    Effect.gen(function*() {
      const report = yield* research.runReport("Q?")
      expect(report.status).toBe("failed")
      expect(report.error?.tag).toBe("OutputParseError")
    }).pipe(withFake({
      respond: Fake.byAgent({ decomposer: () => JSON.stringify({ subQuestions: ["1", "2", "3", "4", "5", "6"] }) })
    })))
})

describe("code", () => {
  it.effect("plans, codes and stops at the first approval", () =>
    Effect.gen(function*() {
      const result = yield* code.run("Write fizzbuzz")
      expect(result).toEqual({
        plan: "1. loop 2. print",
        code: "print(1)",
        review: { approved: true, comments: [] }
      })
      expect(yield* callsOf("coder")).toHaveLength(1)
      expect(yield* callsOf("reviewer")).toHaveLength(1)
    }).pipe(withFake({
      respond: Fake.byAgent({
        planner: () => "1. loop 2. print",
        coder: () => JSON.stringify({ language: "python", code: "print(1)" }),
        reviewer: () => approve(true)
      })
    })))

  it.effect("sends rejected code back to the coder with the review comments", () =>
    Effect.gen(function*() {
      let reviews = 0
      let drafts = 0
      const result = yield* code.run("Write fizzbuzz").pipe(withFake({
        respond: Fake.byAgent({
          planner: () => "plan",
          coder: () => JSON.stringify({ language: "python", code: `draft ${++drafts}` }),
          reviewer: () => approve(++reviews === 2)
        })
      }))
      expect(result.code).toBe("draft 2")
      expect(result.review.approved).toBe(true)
      expect(drafts).toBe(2)
    }))

  it.effect(`loops back to the coder at most ${MAX_REVISIONS} times and returns the last review`, () =>
    Effect.gen(function*() {
      const result = yield* code.run("Write fizzbuzz")
      const coderCalls = yield* callsOf("coder")
      expect(coderCalls).toHaveLength(1 + MAX_REVISIONS)
      expect(yield* callsOf("reviewer")).toHaveLength(1 + MAX_REVISIONS)
      expect(Fake.promptText(coderCalls[1]!.prompt)).toContain("handle empty input")
      expect(result.review).toEqual({ approved: false, comments: ["handle empty input"] })
    }).pipe(withFake({
      respond: Fake.byAgent({
        planner: () => "plan",
        coder: () => JSON.stringify({ language: "python", code: "x" }),
        reviewer: () => approve(false)
      })
    })))
})

describe("registry", () => {
  it("lists code, explore, research and summarize with one-line descriptions", () => {
    expect(Registry.names).toEqual(["code", "explore", "research", "summarize"])
    for (const w of Registry.workflows) {
      expect(w.description.length).toBeGreaterThan(10)
      expect(w.description).not.toContain("\n")
    }
  })

  it.effect("runs a workflow by name from raw input", () =>
    Effect.gen(function*() {
      const workflow = Option.getOrThrow(Registry.find("summarize"))
      const report = yield* workflow.runReportUnknown("Some text.")
      expect(report.status).toBe("succeeded")
      expect(report.output).toBe("short")
      expect(report.steps.map((s) => s.agent)).toEqual(["summarizer"])
    }).pipe(withFake({ respond: Fake.byAgent({ summarizer: () => "short" }) })))
})
