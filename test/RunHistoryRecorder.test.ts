import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Logger, Option, Scope, TestClock } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { afterAll } from "vitest"
import * as RunHistoryRecorder from "../src/layers/RunHistoryRecorder.js"
import * as RunHistorySqlite from "../src/layers/RunHistorySqlite.js"
import * as WorkflowEventsPubSub from "../src/layers/WorkflowEventsPubSub.js"
import { RunHistory, RunHistoryError, type RunHistoryService } from "../src/services/RunHistory.js"
import {
  LlmCallFinished,
  LlmCallStarted,
  StepFinished,
  StepStarted,
  type WorkflowEvent,
  WorkflowEvents,
  WorkflowFinished,
  WorkflowStarted
} from "../src/services/WorkflowEvents.js"

const root = mkdtempSync(join(tmpdir(), "effect-agents-recorder-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let files = 0
const freshFile = () => join(root, `r${++files}`, "history.sqlite")

/** The events of one run with `steps` steps of one LLM call each (10 in / 2 out tokens, $0.001). */
const runEvents = (runId: string, start: number, steps = 2, status: "succeeded" | "failed" = "succeeded") => {
  const events: Array<WorkflowEvent> = [new WorkflowStarted({ runId, workflow: "research", input: { q: runId }, at: start })]
  let at = start
  for (let i = 1; i <= steps; i++) {
    const stepId = `s${i}`
    events.push(new StepStarted({ runId, stepId, label: `answer ${i}`, agent: "answerer", at: ++at }))
    events.push(new LlmCallStarted({ runId, stepId, agent: "answerer", model: "sim", provider: "simulated", attempt: 1, at: ++at }))
    events.push(new LlmCallFinished({
      runId, stepId, agent: "answerer", model: "sim", provider: "simulated", cached: false, attempt: 1,
      usage: { inputTokens: 10, outputTokens: 2 }, costUsd: 0.001, durationMs: 1, status: "success", at: ++at
    }))
    events.push(new StepFinished({
      runId, stepId, label: `answer ${i}`, agent: "answerer", status: "succeeded", durationMs: 2, cached: false,
      attempts: 1, calls: 1, usage: { inputTokens: 10, outputTokens: 2 }, costUsd: 0.001, at: ++at
    }))
  }
  events.push(new WorkflowFinished({
    runId, workflow: "research", status,
    ...(status === "succeeded" ? { output: { answer: runId } } : { error: { tag: "ProviderUnavailable", message: "503" } }),
    usage: { inputTokens: 10 * steps, outputTokens: 2 * steps }, costUsd: 0.001 * steps, durationMs: at + 1 - start, at: at + 1
  }))
  return events
}

const publishAll = (events: ReadonlyArray<WorkflowEvent>) =>
  Effect.flatMap(WorkflowEvents, (bus) => Effect.forEach(events, bus.publish, { discard: true }))

/** Reads a history file after everything else has closed it. */
const readBack = <A>(file: string, f: (h: RunHistoryService) => Effect.Effect<A, RunHistoryError>) =>
  Effect.flatMap(RunHistory, f).pipe(Effect.provide(RunHistorySqlite.layerFile(file)))

/** Builds bus + history + recorder in a scope we close by hand (closing = the process shutting down). */
const openApp = (history: Layer.Layer<RunHistory, RunHistoryError>, options: RunHistoryRecorder.RecorderOptions = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const app = RunHistoryRecorder.layerWith(options).pipe(
      Layer.provideMerge(Layer.merge(WorkflowEventsPubSub.layer, history))
    )
    const context = yield* Layer.buildWithScope(app, scope)
    return { context, close: Scope.close(scope, Exit.void) }
  })

const captureLogs = () => {
  const lines: Array<{ level: string; text: string }> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push({ level: logLevel.label, text: (Array.isArray(message) ? message : [message]).map(String).join(" ") })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("RunHistoryRecorder", () => {
  it.effect("records a run published after the layer was built, once the writer wakes up", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const app = yield* openApp(RunHistorySqlite.layerFile(file))
      yield* publishAll(runEvents("r-1", 1_000)).pipe(Effect.provide(app.context))
      yield* TestClock.adjust(Duration.millis(500))
      const run = yield* Effect.flatMap(RunHistory, (h) => h.getRun("r-1")).pipe(Effect.provide(app.context))
      expect(Option.getOrThrow(run)).toMatchObject({ status: "succeeded", inputTokens: 20, outputTokens: 4 })
      expect(Option.getOrThrow(run).steps).toHaveLength(2)
      yield* app.close
    }))

  it.effect("writes everything still queued when its scope closes", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const app = yield* openApp(RunHistorySqlite.layerFile(file))
      // The clock never moves: the writer is asleep, so only the drain on close can write these.
      yield* publishAll([...runEvents("d-1", 1), ...runEvents("d-2", 2, 3, "failed")]).pipe(Effect.provide(app.context))
      yield* app.close
      const runs = yield* readBack(file, (h) => h.listRuns({ limit: 10 }))
      expect(runs.map((r) => [r.id, r.status, r.inputTokens])).toEqual([["d-2", "failed", 30], ["d-1", "succeeded", 20]])
    }))

  it.live("200 concurrent runs are all recorded, in few transactions, with totals equal to the sum of the runs", () =>
    Effect.gen(function*() {
      const file = freshFile()
      let transactions = 0
      let events = 0
      const counting = Layer.effect(
        RunHistory,
        Effect.map(RunHistory, (h): RunHistoryService => ({
          ...h,
          recordAll: (batch) => {
            transactions += 1
            events += batch.length
            return h.recordAll(batch)
          }
        }))
      ).pipe(Layer.provide(RunHistorySqlite.layerFile(file)))
      const app = yield* openApp(counting, { pollInterval: Duration.millis(10) })
      yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) =>
          Effect.forEach(runEvents(`batch-${i}`, 10_000 + i, 3), (event) =>
            Effect.zipRight(Effect.flatMap(WorkflowEvents, (bus) => bus.publish(event)), Effect.yieldNow()), {
            discard: true
          }),
        { concurrency: "unbounded", discard: true }
      ).pipe(Effect.provide(app.context))
      yield* app.close

      const runs = yield* readBack(file, (h) => h.listRuns({ limit: 1_000 }))
      const totals = yield* readBack(file, (h) => h.totals)
      expect(runs).toHaveLength(200)
      expect(runs.every((r) => r.status === "succeeded" && r.inputTokens === 30)).toBe(true)
      expect(totals.runs).toBe(200)
      expect(totals.inputTokens).toBe(runs.reduce((n, r) => n + r.inputTokens, 0))
      expect(totals.costUsd).toBeCloseTo(runs.reduce((n, r) => n + r.costUsd, 0), 9)
      expect(totals.costUsd).toBeCloseTo(0.6, 9)
      const sample = yield* readBack(file, (h) => h.getRun("batch-137"))
      expect(Option.getOrThrow(sample).steps.map((s) => s.status)).toEqual(["succeeded", "succeeded", "succeeded"])
      // Every event of every run is stored: batched, not one commit per event.
      expect(events).toBe(200 * runEvents("x", 0, 3).length)
      expect(transactions).toBeLessThan(events / 10)
    }))

  it.effect("marks runs left running by an earlier process as interrupted when it starts", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const first = yield* openApp(RunHistorySqlite.layerFile(file))
      yield* publishAll(runEvents("dead-1", 1).slice(0, 3)).pipe(Effect.provide(first.context))
      yield* first.close // the drain writes the started run; nothing finishes it

      const second = yield* openApp(RunHistorySqlite.layerFile(file))
      const run = yield* Effect.flatMap(RunHistory, (h) => h.getRun("dead-1")).pipe(Effect.provide(second.context))
      expect(Option.getOrThrow(run).status).toBe("interrupted")
      yield* second.close
    }))

  it.effect("an event the store keeps refusing is skipped with a warning naming its run, and the others are written", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const logs = captureLogs()
      const isPoison = (e: WorkflowEvent) => e._tag === "WorkflowStarted" && e.runId === "poison"
      const faulty = Layer.effect(
        RunHistory,
        Effect.map(RunHistory, (h): RunHistoryService => ({
          ...h,
          record: (e) => isPoison(e) ? Effect.fail(new RunHistoryError({ operation: "record", reason: "disk on fire" })) : h.record(e),
          recordAll: (batch) =>
            batch.some(isPoison)
              ? Effect.fail(new RunHistoryError({ operation: "record", reason: "disk on fire" }))
              : h.recordAll(batch)
        }))
      ).pipe(Layer.provide(RunHistorySqlite.layerFile(file)))
      yield* Effect.gen(function*() {
        const app = yield* openApp(faulty)
        yield* publishAll([
          ...runEvents("before", 1),
          new WorkflowStarted({ runId: "poison", workflow: "w", input: null, at: 5 })
        ]).pipe(Effect.provide(app.context))
        yield* TestClock.adjust(Duration.millis(500))
        yield* publishAll(runEvents("after", 10)).pipe(Effect.provide(app.context))
        yield* TestClock.adjust(Duration.millis(500))
        yield* app.close
      }).pipe(Effect.provide(logs.layer))

      const runs = yield* readBack(file, (h) => h.listRuns({ limit: 10 }))
      expect(runs.map((r) => r.id)).toEqual(["after", "before"])
      const warnings = logs.lines.filter((l) => l.level === "WARN")
      expect(warnings.map((l) => l.text)).toEqual([
        expect.stringMatching(/skipped a WorkflowStarted event of run poison .*disk on fire/),
        expect.stringMatching(/1 run\(s\) lost events and are incomplete in the history: poison$/)
      ])
    }))
})

// ---------------------------------------------------------------------------------------------
// A real crash: a child process records a run start, is killed with SIGKILL, and a restart marks
// the run interrupted — while a live process's running run is left alone.
// ---------------------------------------------------------------------------------------------

const project = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const childSource = (file: string) => `
import { Effect } from ${JSON.stringify(pathToFileURL(join(project, "node_modules/effect/dist/esm/index.js")).href)}
import * as RunHistorySqlite from ${JSON.stringify(pathToFileURL(join(project, "src/layers/RunHistorySqlite.ts")).href)}
import { WorkflowStarted } from ${JSON.stringify(pathToFileURL(join(project, "src/services/WorkflowEvents.ts")).href)}
await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const history = yield* RunHistorySqlite.make({ filename: ${JSON.stringify(file)} })
  yield* history.record(new WorkflowStarted({ runId: "child-run", workflow: "research", input: null, at: Date.now() }))
  process.stdout.write("recorded\\n")
  yield* Effect.never
})))
`

const spawnRecorder = (file: string) =>
  Effect.acquireRelease(
    Effect.async<ChildProcess, Error>((resume) => {
      const script = join(dirname(file), "child.mts")
      mkdirSync(dirname(file), { recursive: true })
      writeFileSync(script, childSource(file))
      const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: project, stdio: ["ignore", "pipe", "pipe"] })
      let stderr = ""
      child.stderr?.on("data", (chunk) => (stderr += String(chunk)))
      child.stdout?.on("data", (chunk) => {
        if (String(chunk).includes("recorded")) resume(Effect.succeed(child))
      })
      child.on("exit", (code) => resume(Effect.fail(new Error(`child exited ${code}: ${stderr}`))))
    }),
    (child) => Effect.sync(() => child.kill("SIGKILL"))
  )

const killHard = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    child.once("exit", () => resume(Effect.void))
    child.kill("SIGKILL")
  })

describe("RunHistory after a crash (spawn, kill -9, restart)", () => {
  it.scopedLive("a run of a killed process is marked interrupted; while the process lived it was not", () =>
    Effect.gen(function*() {
      const file = freshFile()
      const child = yield* spawnRecorder(file)
      const whileAlive = yield* readBack(file, (h) => Effect.zip(h.markInterrupted, h.getRun("child-run")))
      expect(whileAlive[0]).toBe(0)
      expect(Option.getOrThrow(whileAlive[1]).status).toBe("running")

      yield* killHard(child)
      const afterCrash = yield* readBack(file, (h) => Effect.zip(h.markInterrupted, h.getRun("child-run")))
      expect(afterCrash[0]).toBe(1)
      expect(Option.getOrThrow(afterCrash[1]).status).toBe("interrupted")
    }), 60_000)
})
