/**
 * What `run` / `batch` print at the end: counts that match what happened, the exit code's error,
 * output only after the history flush, and one warning naming runs the history may lack.
 */
import { describe, expect, it } from "@effect/vitest"
import { Console, Effect, Layer } from "effect"
import type { RunReport } from "../src/agents/Workflow.js"
import { makeHistoryFlush } from "../src/cli/historyFlush.js"
import { makeOutcomes, reportBatch, summaryLine } from "../src/cli/runReport.js"
import { HistoryRecorder } from "../src/services/RunHistory.js"

const report = (id: string, status: RunReport<unknown>["status"]): RunReport<unknown> => ({
  id,
  workflow: "summarize",
  status,
  output: status === "succeeded" ? "ok" : undefined,
  error: status === "succeeded" ? undefined : { tag: "ProviderUnavailable", message: "down" },
  usage: { inputTokens: 1, outputTokens: 1 },
  costUsd: 0.001,
  durationMs: 10,
  steps: []
})

/** A console that records what is printed, in order, as `out:` / `err:` lines. */
const recording = () => {
  const lines: Array<string> = []
  const console = Effect.runSync(Console.consoleWith(Effect.succeed))
  const capture: Console.Console = {
    ...console,
    log: (...args) => Effect.sync(() => void lines.push(`out: ${args.join(" ")}`)),
    error: (...args) => Effect.sync(() => void lines.push(`err: ${args.join(" ")}`))
  }
  return { lines, capture }
}

/** A recorder whose flush logs itself and reports `pending` as not written. */
const recorder = (lines: Array<string>, pending: ReadonlyArray<string>) =>
  Layer.succeed(HistoryRecorder, { flush: () => Effect.sync(() => (lines.push("flush"), pending)) })

describe("batch summary", () => {
  it("counts succeeded, failed and cancelled (runs that never finished)", () => {
    const outcomes = makeOutcomes(5)
    outcomes.reports[0] = report("a", "succeeded")
    outcomes.reports[1] = report("b", "succeeded")
    outcomes.reports[3] = report("d", "failed")
    expect(summaryLine(outcomes)).toBe("batch: 2 succeeded, 1 failed, 2 cancelled of 5 · $0.0030")
  })

  it("keeps the short form when everything succeeded", () => {
    const outcomes = makeOutcomes(2)
    outcomes.reports[0] = report("a", "succeeded")
    outcomes.reports[1] = report("b", "succeeded")
    expect(summaryLine(outcomes)).toBe("batch: 2 of 2 runs succeeded · $0.0020")
  })
})

describe("reportBatch", () => {
  const run = (ending: "done" | "quit" | "interrupted" | "signal", filled: number, pending: ReadonlyArray<string> = []) => {
    const { capture, lines } = recording()
    const outcomes = makeOutcomes(3)
    for (let i = 0; i < filled; i++) outcomes.reports[i] = report(`run-${i}`, "succeeded")
    const effect = Effect.gen(function*() {
      const historyFlush = yield* makeHistoryFlush
      return yield* Effect.either(reportBatch(outcomes, { json: true, ending, historyFlush }))
    }).pipe(Effect.provide(recorder(lines, pending)), Effect.withConsole(capture))
    return { result: Effect.runSync(effect), lines }
  }

  it("flushes the history before printing the finished runs' JSON lines, in input order", () => {
    const { lines, result } = run("signal", 2)
    expect(lines[0]).toBe("flush")
    expect(lines.slice(1, 3).map((l) => JSON.parse(l.slice(5)).id)).toEqual(["run-0", "run-1"])
    expect(lines[3]).toBe("err: batch: 2 succeeded, 1 cancelled of 3 · $0.0020")
    expect(result._tag).toBe("Right") // after a signal, the signal's exit code says it
  })

  it("q with runs left is Interrupted (exit 130); q after all finished is a normal end", () => {
    const quit = run("quit", 1).result
    expect(quit._tag === "Left" && quit.left._tag).toBe("Interrupted")
    expect(run("quit", 3).result._tag).toBe("Right")
    const ctrlC = run("interrupted", 3).result
    expect(ctrlC._tag === "Left" && ctrlC.left._tag).toBe("Interrupted")
  })

  it("names the runs the history did not confirm, once, and still prints the output", () => {
    const { lines } = run("done", 3, ["run-1", "run-2"])
    const warnings = lines.filter((l) => l.includes("may be missing"))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain("2 run(s)")
    expect(warnings[0]).toContain("run-1, run-2")
    expect(lines.filter((l) => l.startsWith("out: "))).toHaveLength(3)
  })

  it("warns about a run only once however often the history is flushed", () => {
    const { capture, lines } = recording()
    Effect.runSync(Effect.gen(function*() {
      const historyFlush = yield* makeHistoryFlush
      yield* historyFlush
      yield* historyFlush
    }).pipe(Effect.provide(recorder(lines, ["run-9"])), Effect.withConsole(capture)))
    expect(lines.filter((l) => l.includes("run-9"))).toHaveLength(1)
  })
})
