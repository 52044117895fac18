/**
 * effect-steps — how many Effect steps (run-loop ops) one LLM call takes through the full stack
 * (SQLite cache miss or hit) or the bare provider, and which continuations they are. A profiling
 * aid, not a benchmark (not run by `npm run bench`): each step is a heap-allocated primitive and a
 * trip round the fiber's run loop, so the count is what the resilient layer adds per call that the
 * CPU profile spreads over the runtime's own functions.
 *
 * `node --import tsx bench/effect-steps.ts [stack|provider] [miss|hit|stream] [rows]` (`stream`: a
 * streamed answer of 12 pieces read to its end, each call a cache miss).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { LanguageModel } from "@effect/ai"
import { Effect, RuntimeFlags, RuntimeFlagsPatch, Stream, Supervisor } from "effect"
import * as FakeProvider from "../test/support/FakeProvider.js"
import { providerRuntime, stackRuntime } from "./effectVariants.js"
import { chatMessages, userText } from "./promptShape.js"

const CALLS = 200
const [which = "stack", path = "miss", rows = "40"] = process.argv.slice(2)

/** Counts every step the supervised fibers run, by op and continuation source. */
class StepCounter extends Supervisor.AbstractSupervisor<void> {
  readonly value = Effect.void
  total = 0
  readonly bySource = new Map<string, number>()
  override onEffect(_fiber: unknown, effect: Effect.Effect<unknown, unknown, unknown>): void {
    this.total += 1
    const op = effect as unknown as { _op: string; effect_instruction_i0?: unknown; effect_instruction_i1?: unknown }
    const fn = op.effect_instruction_i1 ?? op.effect_instruction_i0
    const key = `${op._op} ${typeof fn === "function" ? String(fn).replace(/\s+/g, " ").slice(0, 100) : ""}`
    this.bySource.set(key, (this.bySource.get(key) ?? 0) + 1)
  }
}

const answer = path === "stream"
  ? FakeProvider.streamed("A streamed answer of a few sentences, sent piece by piece as a provider would send its tokens.")
  : FakeProvider.ok("The fake provider answered.")
const fake = await FakeProvider.start({ record: false, script: answer })
const dir = mkdtempSync(join(tmpdir(), "effect-steps-"))
const runtime = which === "stack" ? stackRuntime(fake.openaiUrl, dir) : providerRuntime(fake.openaiUrl)
const call = (i: number): Effect.Effect<unknown, unknown, LanguageModel.LanguageModel> =>
  path === "stream"
    ? Stream.runDrain(LanguageModel.streamText({ prompt: chatMessages(userText("steps", 0, i)) }))
    : LanguageModel.generateText({ prompt: chatMessages(userText("steps", 0, i)) })
// Warm-up (models built, pools open, the hit's entry cached), then the counted calls.
await runtime.runPromise(Effect.forEach([0, 1, 2], call))
const counter = new StepCounter()
await runtime.runPromise(
  Effect.forEach(Array.from({ length: CALLS }, (_, i) => (path === "hit" ? 0 : i + 10)), call, { discard: true }).pipe(
    Effect.supervised(counter),
    Effect.withRuntimeFlagsPatch(RuntimeFlagsPatch.enable(RuntimeFlags.OpSupervision))
  )
)
process.stdout.write(`${which} (${path}): ${(counter.total / CALLS).toFixed(1)} steps per call\n`)
for (const [key, n] of [...counter.bySource].sort((a, b) => b[1] - a[1]).slice(0, Number(rows))) {
  process.stdout.write(`${(n / CALLS).toFixed(2).padStart(6)} ${key}\n`)
}
await runtime.dispose()
await fake.close()
rmSync(dir, { recursive: true, force: true })
