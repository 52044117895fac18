/**
 * tool-loop — what the agent's tool loop costs per step, against the same work done by hand.
 *
 * An instant fake model (no I/O) calls one tool in each of its first four answers and answers with
 * text in the fifth: a 5-step loop. Two fakes: one built with `LanguageModel.make` (as a provider
 * package is: `@effect/ai` decodes every response against the toolkit's parts Schema, which it
 * builds anew on each call), and one that hands back decoded parts itself (as the direct
 * chat-completions path and the resilient layer do), where the loop's own cost shows most. Two
 * variants on each, on the same toolkit and handler, both with the event bus in context:
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
import * as Response from "@effect/ai/Response"
import * as Tool from "@effect/ai/Tool"
import * as Toolkit from "@effect/ai/Toolkit"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import { loadavg } from "node:os"
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

/** The encoded parts of the answer to a prompt holding `done` tool results. */
const answer = (done: number): Array<Response.PartEncoded> => [
  ...(done < STEPS - 1
    ? [{ type: "tool-call", id: `call_${done}`, name: "lookup", params: { key: `k${done}` } } as const]
    : [{ type: "text", text: "the answer" } as const]),
  { type: "finish", reason: done < STEPS - 1 ? "tool-calls" : "stop", usage }
]

/** Calls `lookup` until the prompt holds STEPS - 1 tool results, then answers (via `LanguageModel.make`). */
const packageModel = Layer.effect(
  LanguageModel.LanguageModel,
  LanguageModel.make({
    generateText: (options) => Effect.succeed(answer(toolResults(options.prompt))),
    streamText: () => {
      throw new Error("not streamed")
    }
  })
)

/** The same answers, decoded once up front and handed back as they are (no per-call decoding). */
const decodedModel = Layer.sync(LanguageModel.LanguageModel, () => {
  const decode = Schema.decodeUnknownSync(Schema.Array(Response.Part(toolkit)))
  const responses = Array.from({ length: STEPS }, (_, done) => new LanguageModel.GenerateTextResponse(decode(answer(done)) as Array<Response.Part<any>>))
  const doneOf = (prompt: Prompt.RawInput): number =>
    Array.isArray(prompt) ? prompt.filter((m: { role?: string }) => m.role === "tool").length : 0
  const service: LanguageModel.Service = {
    generateText: ((options: { prompt: Prompt.RawInput }) => Effect.succeed(responses[doneOf(options.prompt)]!)) as never,
    generateObject: (() => Effect.die("not used")) as never,
    streamText: (() => {
      throw new Error("not streamed")
    }) as never
  }
  return service
})

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

type Services = LanguageModel.LanguageModel | Layer.Layer.Success<typeof handlers>
type Runtime = ManagedRuntime.ManagedRuntime<Services | Layer.Layer.Success<typeof WorkflowEventsPubSub.layer>, never>

const timed = async (runtime: Runtime, variant: (i: number) => Effect.Effect<string, unknown, Services>): Promise<number> => {
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

/** Alternating rounds of both variants on one model; medians of µs per step and of the ratio. */
const measure = async (model: Layer.Layer<LanguageModel.LanguageModel>) => {
  const runtime: Runtime = ManagedRuntime.make(Layer.mergeAll(model, handlers, WorkflowEventsPubSub.layer))
  await timed(runtime, variants.baseline)
  await timed(runtime, variants.agent)
  const base: Array<number> = []
  const ours: Array<number> = []
  const ratios: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so neither always runs on the other's garbage.
    let a: number
    let b: number
    if (r % 2 === 0) {
      a = await timed(runtime, variants.baseline)
      b = await timed(runtime, variants.agent)
    } else {
      b = await timed(runtime, variants.agent)
      a = await timed(runtime, variants.baseline)
    }
    base.push(a)
    ours.push(b)
    ratios.push(b / a)
  }
  await runtime.dispose()
  return { base: median(base), ours: median(ours), ratio: median(ratios) }
}

// BENCH_TOOL_LOOP_ONLY=decoded (or package) measures one fake only, for profiling.
const only = process.env["BENCH_TOOL_LOOP_ONLY"]
const skipped = { base: Number.NaN, ours: Number.NaN, ratio: Number.NaN }
const viaPackage = only === "decoded" ? skipped : await measure(packageModel)
const decoded = only === "package" ? skipped : await measure(decodedModel)

const fmt = (n: number) => n.toFixed(1)
console.log(`Tool loop: ${STEPS}-step loop on an instant fake model, ${runs} loops × ${rounds} rounds (medians; load ${loadavg().map((l) => l.toFixed(2)).join(" ")})`)
console.log("")
console.log("| fake model | (a) by hand, µs/step | (b) agent.run, µs/step | (b) / (a) |")
console.log("|---|---:|---:|---:|")
console.log(`| \`LanguageModel.make\` (decodes each response) | ${fmt(viaPackage.base)} | ${fmt(viaPackage.ours)} | ${viaPackage.ratio.toFixed(2)}× |`)
console.log(`| decoded parts (as the direct path) | ${fmt(decoded.base)} | ${fmt(decoded.ours)} | ${decoded.ratio.toFixed(2)}× |`)
console.log("")
console.log("Target: (b) / (a) ≤ 1.3×.")
