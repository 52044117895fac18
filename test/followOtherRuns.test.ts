/**
 * The dashboard's view of other processes' runs: a follower polls the run history another store
 * (another process) writes to, on the TestClock, over a real SQLite file.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { followOtherRuns } from "../src/cli/followOtherRuns.js"
import * as RunHistorySqlite from "../src/layers/RunHistorySqlite.js"
import { type RunChange, RunHistory, RunHistoryError } from "../src/services/RunHistory.js"
import type { WorkflowEvent } from "../src/services/WorkflowEvents.js"
import { runEvents, twoSteps } from "./support/historyEvents.js"
import { captureLogs } from "./support/logs.js"

const store = (file: string, id: string, pid: number) =>
  Layer.build(RunHistorySqlite.layerFile(file, { owner: { id, host: "this-host", pid }, isAlive: () => true }))

const setup = Effect.gen(function*() {
  const file = join(mkdtempSync(join(tmpdir(), "ea-follow-")), "history.sqlite")
  const other = yield* store(file, "other-process", 2001)
  const self = yield* store(file, "this-process", 2002)
  const write = (events: ReadonlyArray<WorkflowEvent>, by = other) =>
    Effect.flatMap(RunHistory, (h) => h.recordAll(events)).pipe(Effect.provide(by))
  const seen: Array<ReadonlyArray<RunChange>> = []
  const follow = followOtherRuns((changes) => void seen.push(changes)).pipe(Effect.provide(self))
  return { self, write, seen, follow }
})

const statuses = (batches: ReadonlyArray<ReadonlyArray<RunChange>>) => batches.map((b) => b.map((c) => `${c.id}:${c.status}`))

describe("following other processes' runs", () => {
  it.scoped("hands over a run when it starts and each time it changes, never the same state twice", () =>
    Effect.gen(function*() {
      const { follow, seen, write } = yield* setup
      const events = runEvents({ runId: "r1", start: 0, status: "succeeded", steps: twoSteps })
      yield* TestClock.setTime(3_600_000)
      yield* Effect.forkScoped(follow)
      yield* TestClock.adjust("1 second")
      expect(seen).toEqual([])

      yield* write(events.slice(0, 3))
      yield* TestClock.adjust("1 second")
      expect(statuses(seen)).toEqual([["r1:running"]])
      yield* TestClock.adjust("3 seconds")
      expect(seen).toHaveLength(1)

      yield* write(events.slice(3))
      yield* TestClock.adjust("1 second")
      expect(statuses(seen)).toEqual([["r1:running"], ["r1:succeeded"]])
      expect(seen[1]![0]).toMatchObject({ inputTokens: 450, local: false, pid: 2001 })
      yield* TestClock.adjust("10 seconds")
      expect(seen).toHaveLength(2)
    }))

  it.scoped("leaves out this process's own runs and runs that changed before the look-back", () =>
    Effect.gen(function*() {
      const { follow, seen, self, write } = yield* setup
      yield* TestClock.setTime(1_000)
      yield* write(runEvents({ runId: "ancient", start: 0, status: "succeeded", steps: twoSteps }))
      yield* TestClock.setTime(3_600_000)
      yield* write(runEvents({ runId: "recent", start: 0, status: "failed", steps: twoSteps }))
      yield* Effect.forkScoped(follow)
      yield* write(runEvents({ runId: "mine", start: 0, status: "succeeded", steps: twoSteps }), self)
      yield* TestClock.adjust("2 seconds")
      expect(statuses(seen)).toEqual([["recent:failed"]])
    }))

  it.scoped("a store that cannot be read is tried again at the next poll, with one warning", () =>
    Effect.gen(function*() {
      const { self, seen, write } = yield* setup
      let down = true
      const flaky = Layer.effect(
        RunHistory,
        Effect.map(RunHistory, (h) => ({
          ...h,
          changedRuns: (options: Parameters<typeof h.changedRuns>[0]) =>
            down ? Effect.fail(new RunHistoryError({ operation: "changedRuns", reason: "SQLITE_BUSY" })) : h.changedRuns(options)
        }))
      ).pipe(Layer.provide(Layer.succeedContext(self)))
      yield* TestClock.setTime(3_600_000)
      yield* write(runEvents({ runId: "r2", start: 0, status: "succeeded", steps: twoSteps }))
      const logs = captureLogs()
      yield* Effect.forkScoped(followOtherRuns((changes) => void seen.push(changes)).pipe(Effect.provide(flaky), Effect.provide(logs.layer)))
      yield* TestClock.adjust("3 seconds")
      expect(seen).toEqual([])
      down = false
      yield* TestClock.adjust("1 second")
      expect(statuses(seen)).toEqual([["r2:succeeded"]])
      const warnings = logs.lines.filter((line) => line.level === "WARN")
      expect(warnings.map((line) => line.text)).toEqual([expect.stringContaining("cannot read other processes' runs")])
    }))
})
