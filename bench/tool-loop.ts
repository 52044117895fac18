/**
 * tool-loop — what the agent's tool loop costs per step, against the same work done by hand.
 *
 * An instant fake model (built with `LanguageModel.make`, no I/O) calls one tool in each of its
 * first four answers and answers with text in the fifth: a 5-step loop. Two variants, on the same
 * model, toolkit and handler, both with the event bus in context:
 *   (a) baseline: a hand-written loop — `generateText` with the toolkit and tool-call resolution
 *       off, `toolkit.handle` for the call, the messages appended — 5 model calls;
 *   (b) `agent.run` of an agent with the toolkit (budget check, tool loop with events, metrics and
 *       a span per call, the agent's own metrics and context).
 * Rounds alternate the variants; each round runs `BENCH_TOOL_LOOP_RUNS` loops (default 2,000) per
 * variant. Reported: µs per step (a step = one model call and its tool call) of each, and the
 * median over rounds of (b) / (a). Target: ≤ 1.3×.
 */
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Prompt from "@effect/ai/Prompt"
import type * as Response from "@effect/ai/Response"
import * as Tool from "@effect/ai/Tool"
import * as Toolkit from "@effect/ai/Toolkit"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import { performance } from "node:perf_hooks"
import * as Agent from "../src/agents/Agent.js"
import * as WorkflowEventsPubSub from "../src/layers/WorkflowEventsPubSub.js"
import { median, settle } from "./measure.js"

const STEPS = 5
const runs = Number(process.env["BENCH_TOOL_LOOP_RUNS"] ?? 2_000)
const rounds = Number(process.env["BENCH_TOOL_LOOP_ROUNDS"] ?? 9)

const Lookup = Tool.make("lookup", {
  description: "Looks a key up",
  parameters: { key: Schema.String },
  success: Schema.Struct({ value: Schema.String })
})
const toolkit = Toolkit.make(Lookup)
const handlers = toolkit.toLayer({ lookup: ({ key }) => Effect.succeed({ value: `value of ${key}` }) })

const usage = { inputTokens: 10, outputTokens: 5, totalTokens: 15 }
const toolResults = (prompt: Prompt.Prompt): number => prompt.content.filter((m) => m.role === "tool").length

/** Calls `lookup` until the prompt holds STEPS - 1 tool results, then answers. */
const model = Layer.effect(
  LanguageModel.LanguageModel,
  LanguageModel.make({
    generateText: (options) => {
      const done = toolResults(options.prompt)
      const parts: Array<Response.PartEncoded> = done < STEPS - 1
        ? [{ type: "tool-call", id: `call_${done}`, name: "lookup", params: { key: `k${done}` } }]
        : [{ type: "text", text: "the answer" }]
      return Effect.succeed([...parts, { type: "finish", reason: done < STEPS - 1 ? "tool-calls" : "stop", usage }])
    },
    streamText: () => {
      throw new Error("not streamed")
    }
  })
)

const agent = Agent.make({
  name: "bench-tools",
  instructions: "Look things up.",
  input: Schema.String,
  output: "text",
  tools: toolkit,
  maxSteps: STEPS
})

/** The same loop by hand: model calls, handler calls, messages. */
const byHand = (question: string) =>
  Effect.gen(function*() {
    const kit = yield* toolkit
    const prompt: Array<Prompt.MessageEncoded> = [
      { role: "system", content: "Look things up." },
      { role: "user", content: question }
    ]
    for (let step = 0; step < STEPS; step++) {
      const response = yield* LanguageModel.generateText({ prompt, toolkit: kit, disableToolCallResolution: true })
      if (response.toolCalls.length === 0) return response.text
      const call = response.toolCalls[0]!
      const result = yield* kit.handle("lookup", call.params)
      prompt.push({ role: "assistant", content: [{ type: "tool-call", id: call.id, name: call.name, params: call.params }] })
      prompt.push({
        role: "tool",
        content: [{ type: "tool-result", id: call.id, name: call.name, isFailure: false, result: result.encodedResult, providerExecuted: false }]
      })
    }
    return ""
  })

const runtime = ManagedRuntime.make(Layer.mergeAll(model, handlers, WorkflowEventsPubSub.layer))

type Services = Layer.Layer.Success<typeof model> | Layer.Layer.Success<typeof handlers>

const timed = async (variant: (i: number) => Effect.Effect<string, unknown, Services>): Promise<number> => {
  await settle()
  const t0 = performance.now()
  await runtime.runPromise(Effect.gen(function*() {
    for (let i = 0; i < runs; i++) {
      const answer = yield* variant(i)
      if (answer !== "the answer") throw new Error(`unexpected answer: ${answer}`)
    }
  }))
  return ((performance.now() - t0) * 1000) / (runs * STEPS)
}

const variants = {
  baseline: (i: number) => byHand(`question ${i % 50}`),
  agent: (i: number) => agent.run(`question ${i % 50}`)
} as const

// Warm-up, then alternating rounds.
await timed(variants.baseline)
await timed(variants.agent)
const base: Array<number> = []
const ours: Array<number> = []
const ratios: Array<number> = []
for (let r = 0; r < rounds; r++) {
  const first = r % 2 === 0
  const a = first ? await timed(variants.baseline) : 0
  const b = await timed(variants.agent)
  const a2 = first ? a : await timed(variants.baseline)
  base.push(a2)
  ours.push(b)
  ratios.push(b / a2)
}
await runtime.dispose()

const fmt = (n: number) => n.toFixed(1)
console.log(`Tool loop: ${STEPS}-step loop on an instant fake model, ${runs} loops × ${rounds} rounds (median per step)`)
console.log("")
console.log("| variant | µs per step |")
console.log("|---|---:|")
console.log(`| (a) by hand: generateText + toolkit.handle | ${fmt(median(base))} |`)
console.log(`| (b) agent.run with tools | ${fmt(median(ours))} |`)
console.log("")
console.log(`(b) / (a), median of rounds: ${median(ratios).toFixed(2)}× (target ≤ 1.3×)`)
