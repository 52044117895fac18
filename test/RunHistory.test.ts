import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Layer, Option, Scope } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll } from "vitest"
import * as RunHistoryFromConfig from "../src/layers/RunHistoryFromConfig.js"
import * as RunHistorySqlite from "../src/layers/RunHistorySqlite.js"
import { RunHistory, RunHistoryError } from "../src/services/RunHistory.js"
import {
  CircuitStateChanged,
  LlmCallFinished,
  type WorkflowEvent,
  WorkflowFinished,
  WorkflowStarted
} from "../src/services/WorkflowEvents.js"
import { testConfigLayer } from "./support/config.js"

const root = mkdtempSync(join(tmpdir(), "effect-agents-history-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let files = 0
const freshFile = () => join(root, `h${++files}`, "history.sqlite")

import { runEvents, twoSteps } from "./support/historyEvents.js"

const recordEach = (events: ReadonlyArray<WorkflowEvent>) =>
  Effect.flatMap(RunHistory, (h) => Effect.forEach(events, h.record, { discard: true }))

const getRun = (id: string) =>
  Effect.flatMap(RunHistory, (h) => h.getRun(id)).pipe(Effect.map(Option.getOrThrow))

/** A history in a fresh temporary file. */
const fresh = () => RunHistorySqlite.layerFile(freshFile())

// ---------------------------------------------------------------------------------------------

describe("RunHistory on SQLite: what a run leaves in the history", () => {
  it.effect("a successful run is succeeded, with its duration, output and tokens and cost summed from its LLM calls", () =>
    Effect.gen(function*() {
      const events = runEvents({ runId: "ok-1", start: 1_000, status: "succeeded", steps: twoSteps })
      yield* recordEach(events)
      const run = yield* getRun("ok-1")
      const finished = events.at(-1) as WorkflowFinished
      expect(run.status).toBe("succeeded")
      expect(run.workflow).toBe("research")
      expect(run.startedAt).toBe(1_000)
      expect(run.finishedAt).toBe(finished.at)
      expect(run.durationMs).toBe(finished.durationMs)
      expect(run.inputTokens).toBe(450)
      expect(run.outputTokens).toBe(110)
      expect(run.costUsd).toBeCloseTo(0.005, 12)
      expect(run.error).toBeUndefined()
      expect(run.input).toEqual({ question: "q-ok-1" })
      expect(run.output).toEqual({ answer: "a-ok-1", n: 1 })
    }).pipe(Effect.provide(fresh())))

  it.effect("a successful run's steps carry agent, status, duration, cached, attempts, tokens and cost", () =>
    Effect.gen(function*() {
      yield* recordEach(runEvents({ runId: "ok-2", start: 1_000, status: "succeeded", steps: twoSteps }))
      const run = yield* getRun("ok-2")
      expect(run.steps.map((s) => [s.stepId, s.label, s.agent, s.status])).toEqual([
        ["s1", "step 1", "planner", "succeeded"],
        ["s2", "step 2", "writer", "succeeded"]
      ])
      const [plan, write] = run.steps
      expect(plan).toMatchObject({ cached: false, attempts: 1, calls: 1, inputTokens: 100, outputTokens: 20, output: "out-s1" })
      expect(plan?.costUsd).toBeCloseTo(0.001, 12)
      expect(plan?.durationMs).toBeGreaterThan(0)
      expect(write).toMatchObject({ cached: false, attempts: 3, calls: 2, inputTokens: 350, outputTokens: 90 })
      expect(write?.costUsd).toBeCloseTo(0.004, 12)
    }).pipe(Effect.provide(fresh())))

  it.effect("a successful run's LLM calls carry model, provider, cached, attempts, tokens, cost and status", () =>
    Effect.gen(function*() {
      yield* recordEach(runEvents({ runId: "ok-3", start: 1_000, status: "succeeded", steps: twoSteps }))
      const run = yield* getRun("ok-3")
      expect(run.llmCalls).toHaveLength(3)
      expect(run.llmCalls.map((c) => [c.stepId, c.agent, c.cached, c.attempts, c.inputTokens, c.outputTokens, c.status]))
        .toEqual([
          ["s1", "planner", false, 1, 100, 20, "success"],
          ["s2", "writer", false, 3, 300, 80, "success"],
          ["s2", "writer", true, 1, 50, 10, "success"]
        ])
      expect(run.llmCalls[1]).toMatchObject({ model: "simulated-1", provider: "simulated", durationMs: 40 })
      expect(run.llmCalls[1]?.costUsd).toBeCloseTo(0.004, 12)
    }).pipe(Effect.provide(fresh())))

  it.effect("a failed run is failed with its error tag and message, and its failing step too", () =>
    Effect.gen(function*() {
      const steps = [
        { agent: "planner", calls: [{ input: 10, output: 5, cost: 0.0001 }] },
        { agent: "coder", calls: [{ input: 20, output: 0, cost: 0, error: { tag: "ProviderUnavailable", message: "503" } }] }
      ]
      yield* recordEach(runEvents({ runId: "bad-1", start: 5_000, status: "failed", steps }))
      const run = yield* getRun("bad-1")
      expect(run.status).toBe("failed")
      expect(run.error).toEqual({ tag: "OutputParseError", message: "bad JSON" })
      expect(run.output).toBeUndefined()
      expect(run.inputTokens).toBe(30)
      expect(run.steps[1]).toMatchObject({ status: "failed", error: { tag: "OutputParseError", message: "bad JSON" } })
      expect(run.llmCalls[1]).toMatchObject({ status: "error", error: { tag: "ProviderUnavailable", message: "503" } })
    }).pipe(Effect.provide(fresh())))

  it.effect("a cancelled run is cancelled, keeping the tokens and cost spent before the cancel", () =>
    Effect.gen(function*() {
      yield* recordEach(runEvents({ runId: "cx-1", start: 9_000, status: "cancelled", steps: twoSteps }))
      const run = yield* getRun("cx-1")
      expect(run.status).toBe("cancelled")
      expect(run.error?.tag).toBe("Interrupted")
      expect(run.steps.at(-1)?.status).toBe("cancelled")
      expect(run.inputTokens).toBe(450)
      expect(run.costUsd).toBeCloseTo(0.005, 12)
    }).pipe(Effect.provide(fresh())))

  it.effect("a run in progress is running, with what its finished calls spent so far", () =>
    Effect.gen(function*() {
      const events = runEvents({ runId: "live-1", start: 1_000, status: "succeeded", steps: twoSteps, finish: false })
      // Stop after the first step's call: the second step has started but not finished.
      const cut = events.findIndex((e) => e._tag === "StepStarted" && e.stepId === "s2") + 1
      yield* recordEach(events.slice(0, cut))
      const run = yield* getRun("live-1")
      expect(run.status).toBe("running")
      expect(run.finishedAt).toBeUndefined()
      expect(run.durationMs).toBeUndefined()
      expect(run.inputTokens).toBe(100)
      expect(run.steps.map((s) => s.status)).toEqual(["succeeded", "running"])
    }).pipe(Effect.provide(fresh())))

  it.effect("events applied out of order (finish before start) still give the right run and step rows", () =>
    Effect.gen(function*() {
      const events = runEvents({ runId: "ooo-1", start: 1_000, status: "succeeded", steps: twoSteps })
      yield* recordEach([...events].reverse())
      const run = yield* getRun("ooo-1")
      expect(run.status).toBe("succeeded")
      expect(run.input).toEqual({ question: "q-ooo-1" })
      expect(run.startedAt).toBe(1_000)
      expect(run.inputTokens).toBe(450)
      expect(run.steps.every((s) => s.status === "succeeded")).toBe(true)
      expect(run.steps).toHaveLength(2)
    }).pipe(Effect.provide(fresh())))

  it.effect("recordAll writes a batch of several runs' events like one record per event", () =>
    Effect.gen(function*() {
      const h = yield* RunHistory
      yield* h.recordAll([
        ...runEvents({ runId: "b-1", start: 1, status: "succeeded", steps: twoSteps }),
        ...runEvents({ runId: "b-2", start: 2, status: "failed", steps: twoSteps })
      ])
      const runs = yield* h.listRuns({ limit: 10 })
      expect(runs.map((r) => [r.id, r.status, r.inputTokens])).toEqual([["b-2", "failed", 450], ["b-1", "succeeded", 450]])
    }).pipe(Effect.provide(fresh())))

  it.effect("LLM calls outside a run and retry / circuit events store nothing", () =>
    Effect.gen(function*() {
      const h = yield* RunHistory
      yield* h.record(new LlmCallFinished({
        model: "m", provider: "p", cached: false, attempt: 1, usage: { inputTokens: 5, outputTokens: 5 },
        costUsd: 1, durationMs: 1, status: "success", at: 1
      }))
      yield* h.record(new CircuitStateChanged({ breaker: "p/m", from: "closed", to: "open", at: 2 }))
      expect(yield* h.totals).toEqual({ runs: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 })
      expect(yield* h.listRuns({ limit: 10 })).toEqual([])
    }).pipe(Effect.provide(fresh())))

  it.effect("inputs and outputs JSON cannot represent are stored as text instead of failing the write", () =>
    Effect.gen(function*() {
      const h = yield* RunHistory
      yield* h.record(new WorkflowStarted({ runId: "big-1", workflow: "w", input: { n: 10n }, at: 1 }))
      expect((yield* getRun("big-1")).input).toBe("[object Object]")
    }).pipe(Effect.provide(fresh())))
})

describe("RunHistory on SQLite: listing and totals", () => {
  const seeded = Effect.gen(function*() {
    const h = yield* RunHistory
    for (let i = 1; i <= 5; i++) {
      const status = i === 2 ? "failed" : i === 4 ? "cancelled" : "succeeded"
      const steps = [{ agent: "a", calls: [{ input: 10 * i, output: i, cost: 0.01 * i }] }]
      yield* h.recordAll(runEvents({ runId: `run-${i}`, start: i * 1_000, status, steps }))
    }
    return h
  })

  it.effect("listRuns returns the newest runs first, at most limit of them", () =>
    Effect.gen(function*() {
      const h = yield* seeded
      const runs = yield* h.listRuns({ limit: 3 })
      expect(runs.map((r) => r.id)).toEqual(["run-5", "run-4", "run-3"])
      expect(runs.map((r) => r.status)).toEqual(["succeeded", "cancelled", "succeeded"])
    }).pipe(Effect.provide(fresh())))

  it.effect("listRuns pages with offset", () =>
    Effect.gen(function*() {
      const h = yield* seeded
      expect((yield* h.listRuns({ limit: 2, offset: 2 })).map((r) => r.id)).toEqual(["run-3", "run-2"])
      expect((yield* h.listRuns({ limit: 10, offset: 4 })).map((r) => r.id)).toEqual(["run-1"])
    }).pipe(Effect.provide(fresh())))

  it.effect("listRuns summaries carry tokens, cost, duration and the error of failed runs", () =>
    Effect.gen(function*() {
      const h = yield* seeded
      const failed = (yield* h.listRuns({ limit: 10 })).find((r) => r.id === "run-2")
      expect(failed).toMatchObject({ status: "failed", inputTokens: 20, outputTokens: 2, error: { tag: "OutputParseError" } })
      expect(failed?.costUsd).toBeCloseTo(0.02, 12)
      expect(failed?.durationMs).toBeGreaterThan(0)
    }).pipe(Effect.provide(fresh())))

  it.effect("totals equal the sum of the runs", () =>
    Effect.gen(function*() {
      const h = yield* seeded
      const runs = yield* h.listRuns({ limit: 100 })
      const totals = yield* h.totals
      expect(totals.runs).toBe(5)
      expect(totals.inputTokens).toBe(runs.reduce((n, r) => n + r.inputTokens, 0))
      expect(totals.outputTokens).toBe(runs.reduce((n, r) => n + r.outputTokens, 0))
      expect(totals.costUsd).toBeCloseTo(runs.reduce((n, r) => n + r.costUsd, 0), 12)
      expect(totals.inputTokens).toBe(150)
    }).pipe(Effect.provide(fresh())))

  it.effect("getRun of an unknown id is None", () =>
    Effect.gen(function*() {
      const h = yield* seeded
      expect(Option.isNone(yield* h.getRun("nope"))).toBe(true)
    }).pipe(Effect.provide(fresh())))
})

describe("RunHistory on SQLite: runs left running by a process that died", () => {
  /** Opens the history in `file` in its own scope; closing the scope is the process ending. */
  const open = (file: string) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const history = yield* RunHistorySqlite.make({ filename: file }).pipe(Scope.extend(scope))
      return { history, close: Scope.close(scope, Exit.void) }
    })

  it.effect("markInterrupted turns a running run of a closed store into interrupted after reopening the file", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const first = yield* open(file)
      const events = runEvents({ runId: "crash-1", start: 1_000, status: "succeeded", steps: twoSteps, finish: false })
      yield* first.history.recordAll(events.slice(0, -1)) // the last step never finishes
      yield* first.history.recordAll(runEvents({ runId: "done-1", start: 500, status: "succeeded", steps: twoSteps }))
      yield* first.close

      const second = yield* open(file)
      expect(yield* second.history.markInterrupted).toBe(1)
      const run = Option.getOrThrow(yield* second.history.getRun("crash-1"))
      expect(run.status).toBe("interrupted")
      expect(run.finishedAt).toBeUndefined()
      expect(run.inputTokens).toBe(450) // what it spent before dying is kept
      expect(run.steps.map((s) => s.status)).toEqual(["succeeded", "interrupted"])
      expect(Option.getOrThrow(yield* second.history.getRun("done-1")).status).toBe("succeeded")
      expect(yield* second.history.markInterrupted).toBe(0)
      yield* second.close
    }))

  it.effect("markInterrupted leaves alone the runs this store is still running", () =>
    Effect.gen(function*() {
      const h = yield* RunHistory
      yield* h.record(new WorkflowStarted({ runId: "mine", workflow: "w", input: null, at: 1 }))
      expect(yield* h.markInterrupted).toBe(0)
      expect(Option.getOrThrow(yield* h.getRun("mine")).status).toBe("running")
    }).pipe(Effect.provide(fresh())))

  it.effect("markInterrupted leaves alone runs of another live process on this host", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const other = { id: "other-store", host: "this-host", pid: 4242 }
      yield* RunHistory.pipe(
        Effect.flatMap((h) => h.record(new WorkflowStarted({ runId: "theirs", workflow: "w", input: null, at: 1 }))),
        Effect.provide(RunHistorySqlite.layerFile(file, { owner: other }))
      )
      const me = { id: "me", host: "this-host", pid: 1 }
      const alive = (pids: ReadonlyArray<number>) =>
        RunHistorySqlite.layerFile(file, { owner: me, isAlive: (pid) => pids.includes(pid) })
      expect(yield* Effect.provide(Effect.flatMap(RunHistory, (h) => h.markInterrupted), alive([4242]))).toBe(0)
      expect(yield* Effect.provide(Effect.flatMap(RunHistory, (h) => h.markInterrupted), alive([]))).toBe(1)
    }))

  it.effect("a finish that arrives after a run was marked interrupted restores its real status", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const events = runEvents({ runId: "late-1", start: 1, status: "succeeded", steps: twoSteps })
      yield* Effect.flatMap(RunHistory, (h) => h.recordAll(events.slice(0, -1))).pipe(
        Effect.provide(RunHistorySqlite.layerFile(file, { owner: { id: "elsewhere", host: "other-host", pid: 7 } }))
      )
      yield* Effect.gen(function*() {
        const h = yield* RunHistory
        expect(yield* h.markInterrupted).toBe(1)
        yield* h.record(events.at(-1)!)
        expect(Option.getOrThrow(yield* h.getRun("late-1")).status).toBe("succeeded")
      }).pipe(Effect.provide(RunHistorySqlite.layerFile(file)))
    }))
})

describe("RunHistory on SQLite: the file", () => {
  it.effect("creates the data directory and keeps the history across reopening", () =>
    Effect.gen(function*() {
      const file = join(root, "deep", "er", "history.sqlite")
      yield* recordEach(runEvents({ runId: "keep-1", start: 1, status: "succeeded", steps: twoSteps })).pipe(
        Effect.provide(RunHistorySqlite.layerFile(file))
      )
      const run = yield* getRun("keep-1").pipe(Effect.provide(RunHistorySqlite.layerFile(file)))
      expect(run.status).toBe("succeeded")
    }))

  it.effect("a file that is not a database fails with RunHistoryError", () =>
    Effect.gen(function*() {
      const file = join(root, "garbage.sqlite")
      writeFileSync(file, "this is not a sqlite database, just text ".repeat(200))
      const error = yield* Effect.flip(Layer.build(RunHistorySqlite.layerFile(file)).pipe(Effect.scoped))
      expect(error).toBeInstanceOf(RunHistoryError)
      expect(error._tag).toBe("RunHistoryError")
      expect(["open", "migrate"]).toContain(error.operation)
    }))

  it.effect("layer uses <DATA_DIR>/history.sqlite", () =>
    Effect.gen(function*() {
      const dataDir = join(root, "datadir-1")
      yield* recordEach(runEvents({ runId: "dd-1", start: 1, status: "succeeded", steps: twoSteps })).pipe(
        Effect.provide(RunHistorySqlite.layer.pipe(Layer.provide(testConfigLayer({ DATA_DIR: dataDir }))))
      )
      const run = yield* getRun("dd-1").pipe(Effect.provide(RunHistorySqlite.layerFile(join(dataDir, "history.sqlite"))))
      expect(run.id).toBe("dd-1")
    }))
})

describe("RunHistoryFromConfig", () => {
  it("targetOf: no DATABASE_URL or a bare sqlite: keeps the history in DATA_DIR", () => {
    const inDataDir = { _tag: "Sqlite", filename: join("/data", "history.sqlite") }
    expect(RunHistoryFromConfig.targetOf(Option.none(), "/data")).toEqual(Either.right(inDataDir))
    expect(RunHistoryFromConfig.targetOf(Option.some("sqlite:"), "/data")).toEqual(Either.right(inDataDir))
  })

  it("targetOf: sqlite:PATH, sqlite://PATH and sqlite:///ABS choose the file", () => {
    const file = (filename: string) => Either.right({ _tag: "Sqlite", filename })
    expect(RunHistoryFromConfig.targetOf(Option.some("sqlite:runs/h.db"), "/data")).toEqual(file("runs/h.db"))
    expect(RunHistoryFromConfig.targetOf(Option.some("sqlite://runs/h.db"), "/data")).toEqual(file("runs/h.db"))
    expect(RunHistoryFromConfig.targetOf(Option.some("sqlite:///var/h.db"), "/data")).toEqual(file("/var/h.db"))
    expect(RunHistoryFromConfig.targetOf(Option.some("sqlite::memory:"), "/data")).toEqual(file(":memory:"))
  })

  it("targetOf: postgres URLs select PostgreSQL; other schemes are refused without echoing the URL", () => {
    expect(RunHistoryFromConfig.targetOf(Option.some("postgres://u:pw@db/x"), "/d")).toEqual(Either.right({ _tag: "Postgres" }))
    expect(RunHistoryFromConfig.targetOf(Option.some("postgresql://db/x"), "/d")).toEqual(Either.right({ _tag: "Postgres" }))
    const refused = RunHistoryFromConfig.targetOf(Option.some("mysql://u:secret@db/x"), "/d")
    expect(Either.isLeft(refused)).toBe(true)
    expect(Either.getLeft(refused).pipe(Option.getOrThrow)).not.toContain("secret")
  })

  it.effect("by default writes <DATA_DIR>/history.sqlite", () =>
    Effect.gen(function*() {
      const dataDir = join(root, "datadir-2")
      yield* recordEach(runEvents({ runId: "cfg-1", start: 1, status: "succeeded", steps: twoSteps })).pipe(
        Effect.provide(RunHistoryFromConfig.layer.pipe(Layer.provide(testConfigLayer({ DATA_DIR: dataDir }))))
      )
      const run = yield* getRun("cfg-1").pipe(Effect.provide(RunHistorySqlite.layerFile(join(dataDir, "history.sqlite"))))
      expect(run.status).toBe("succeeded")
    }))

  it.effect("DATABASE_URL=sqlite:PATH writes that file", () =>
    Effect.gen(function*() {
      const file = resolve(root, "chosen", "runs.db")
      yield* recordEach(runEvents({ runId: "cfg-2", start: 1, status: "failed", steps: twoSteps })).pipe(
        Effect.provide(RunHistoryFromConfig.layer.pipe(
          Layer.provide(testConfigLayer({ DATA_DIR: join(root, "unused"), DATABASE_URL: `sqlite:${file}` }))
        ))
      )
      const run = yield* getRun("cfg-2").pipe(Effect.provide(RunHistorySqlite.layerFile(file)))
      expect(run.status).toBe("failed")
    }))

  it.effect("an unreachable DATABASE_URL=postgres://... fails with a RunHistoryError that does not reveal the URL", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(RunHistoryFromConfig.layer.pipe(
        Layer.provide(testConfigLayer({ DATABASE_URL: "postgres://app:hunter2@127.0.0.1:1/runs" }))
      )).pipe(Effect.scoped))
      expect(error).toBeInstanceOf(RunHistoryError)
      expect(error.operation).toBe("open")
      expect(error.message).not.toContain("hunter2")
    }))
})
