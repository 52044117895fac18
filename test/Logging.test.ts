/**
 * The logging layer: JSON lines and pretty lines, LOG_LEVEL, daily files under LOG_DIR rotated by
 * the Effect clock, secrets never printed, the console switch and the in-memory tail.
 */
import { afterAll, afterEach, describe, expect, it, vi } from "@effect/vitest"
import { Cause, Chunk, Effect, Fiber, Layer, Redacted, Schema, Stream, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Workflow from "../src/agents/Workflow.js"
import * as Logging from "../src/layers/Logging.js"
import * as WorkflowEventsPubSub from "../src/layers/WorkflowEventsPubSub.js"
import * as LogTail from "../src/services/LogTail.js"
import * as WorkflowContext from "../src/services/WorkflowContext.js"
import { testConfigLayer } from "./support/config.js"

const dirs: Array<string> = []
const freshDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-agents-logging-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})
afterEach(() => {
  vi.restoreAllMocks()
})

/** The logging layer over a test configuration whose LOG_DIR is `dir` (JSON format unless set). */
const logging = (
  dir: string,
  env: Readonly<Record<string, string>> = {},
  options: Logging.Options = { console: false }
): Layer.Layer<LogTail.LogTail> =>
  Logging.layer(options).pipe(Layer.provide(testConfigLayer({ LOG_DIR: dir, LOG_FORMAT: "json", ...env })))

const readJsonLines = (file: string): Array<Record<string, unknown>> =>
  fs.readFileSync(file, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>)

/** Everything written to stderr and stdout while the spies are installed (output suppressed). */
const captureOutput = () => {
  const stderr: Array<string> = []
  const stdout: Array<string> = []
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(String(chunk))
    return true
  })
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk))
    return true
  })
  return { stderr, stdout }
}

/** Paths of this process's open descriptors that point into `dir` (Linux /proc). */
const openFilesUnder = (dir: string): Array<string> =>
  fs.readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      const target = fs.readlinkSync(path.join("/proc/self/fd", fd))
      return target.startsWith(dir) ? [target] : []
    } catch {
      return []
    }
  })

const MAR_14_0930 = Date.UTC(2025, 2, 14, 9, 30, 0)

describe("JSON lines", () => {
  it.effect("carry timestamp, level, message, annotations and span durations", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      yield* TestClock.setTime(MAR_14_0930)
      yield* Effect.gen(function*() {
        yield* TestClock.adjust("250 millis")
        yield* Effect.log("step finished")
      }).pipe(
        Effect.withLogSpan("step"),
        Effect.annotateLogs({ workflow: "research", runId: "run-1", agent: "writer", attempt: 2 }),
        Effect.provide(logging(dir))
      )
      const [line] = readJsonLines(path.join(dir, "effect-agents-2025-03-14.log"))
      expect(line).toEqual({
        timestamp: "2025-03-14T09:30:00.250Z",
        level: "INFO",
        message: "step finished",
        workflow: "research",
        runId: "run-1",
        agent: "writer",
        attempt: "2",
        spans: { step: 250 }
      })
    }))

  it.effect("render a failure's cause under `cause`", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      yield* Effect.logError("agent failed", Cause.fail(new Error("provider exploded"))).pipe(
        Effect.provide(logging(dir))
      )
      const [line] = readJsonLines(path.join(dir, Logging.logFileName(0)))
      expect(line?.["level"]).toBe("ERROR")
      expect(line?.["message"]).toBe("agent failed")
      expect(line?.["cause"]).toContain("provider exploded")
    }))

  it("never let an annotation overwrite the timestamp, level or message", () => {
    const line = JSON.parse(Logging.formatJson({
      timestamp: MAR_14_0930,
      level: "INFO",
      message: "real message",
      annotations: { message: "impostor", level: "DEBUG" },
      spans: {}
    })) as Record<string, unknown>
    expect(line["message"]).toBe("real message")
    expect(line["level"]).toBe("INFO")
    expect(line["annotation.message"]).toBe("impostor")
    expect(line["annotation.level"]).toBe("DEBUG")
  })
})

describe("LOG_LEVEL", () => {
  const logAllLevels = Effect.gen(function*() {
    yield* Effect.logDebug("debug entry")
    yield* Effect.logInfo("info entry")
    yield* Effect.logWarning("warning entry")
    yield* Effect.logError("error entry")
  })

  it.effect("WARNING keeps only warnings and errors", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      yield* logAllLevels.pipe(Effect.provide(logging(dir, { LOG_LEVEL: "WARNING" })))
      const lines = readJsonLines(path.join(dir, Logging.logFileName(0)))
      expect(lines.map((l) => l["level"])).toEqual(["WARNING", "ERROR"])
    }))

  it.effect("DEBUG keeps debug entries too", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      yield* logAllLevels.pipe(Effect.provide(logging(dir, { LOG_LEVEL: "debug" })))
      const lines = readJsonLines(path.join(dir, Logging.logFileName(0)))
      expect(lines.map((l) => l["level"])).toEqual(["DEBUG", "INFO", "WARNING", "ERROR"])
    }))

  it.effect("filtered entries do not reach the tail either", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      const recent = yield* Effect.zipRight(logAllLevels, LogTail.recent).pipe(
        Effect.provide(logging(dir, { LOG_LEVEL: "ERROR" }))
      )
      expect(recent.map((e) => e.message)).toEqual(["error entry"])
    }))
})

describe("log files", () => {
  it("are named by the UTC date of the entry", () => {
    expect(Logging.logFileName(Date.UTC(2025, 0, 1, 23, 59, 59, 999))).toBe("effect-agents-2025-01-01.log")
    expect(Logging.logFileName(new Date(Date.UTC(2025, 0, 2)))).toBe("effect-agents-2025-01-02.log")
  })

  it.effect("are written under LOG_DIR, created private (dir 0700, file 0600)", () =>
    Effect.gen(function*() {
      const dir = path.join(freshDir(), "nested", "logs")
      yield* TestClock.setTime(MAR_14_0930)
      yield* Effect.log("hello file").pipe(Effect.provide(logging(dir)))
      const file = path.join(dir, "effect-agents-2025-03-14.log")
      expect(readJsonLines(file).map((l) => l["message"])).toEqual(["hello file"])
      expect(fs.statSync(file).mode & 0o777).toBe(0o600)
      expect(fs.statSync(dir).mode & 0o777).toBe(0o700)
    }))

  it.effect("rotate at UTC midnight: each line lands in the file of its date", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      yield* TestClock.setTime(Date.UTC(2025, 0, 31, 23, 59, 30))
      yield* Effect.gen(function*() {
        yield* Effect.log("before midnight")
        yield* TestClock.adjust("1 minute")
        yield* Effect.log("after midnight")
        yield* Effect.log("still the new day")
      }).pipe(Effect.provide(logging(dir)))
      expect(fs.readdirSync(dir).sort()).toEqual(["effect-agents-2025-01-31.log", "effect-agents-2025-02-01.log"])
      expect(readJsonLines(path.join(dir, "effect-agents-2025-01-31.log")).map((l) => l["message"]))
        .toEqual(["before midnight"])
      expect(readJsonLines(path.join(dir, "effect-agents-2025-02-01.log")).map((l) => l["message"]))
        .toEqual(["after midnight", "still the new day"])
      expect(fs.statSync(path.join(dir, "effect-agents-2025-02-01.log")).mode & 0o777).toBe(0o600)
    }))


  it.effect("an unwritable LOG_DIR never fails the program and is reported once", () =>
    Effect.gen(function*() {
      const base = freshDir()
      const notADir = path.join(base, "file")
      fs.writeFileSync(notADir, "")
      const output = captureOutput()
      const recent = yield* Effect.gen(function*() {
        yield* Effect.log("first")
        yield* Effect.log("second")
        return yield* LogTail.recent
      }).pipe(Effect.provide(logging(path.join(notADir, "logs"), {}, { console: true })))
      const reports = output.stderr.filter((s) => s.includes("cannot write log file"))
      expect(reports).toHaveLength(1)
      expect(output.stderr.filter((s) => s.includes("\"second\""))).toHaveLength(1)
      expect(recent.map((e) => e.message)).toEqual([
        "first",
        expect.stringContaining("cannot write log file"),
        "second"
      ])
    }))
})

describe("workflow runs", () => {
  it.effect("a line logged inside a run's step, by an agent, names them in the file and on the console", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      yield* TestClock.setTime(MAR_14_0930)
      const output = captureOutput()
      const reporting = Workflow.make("reporting", "logs from an agent", Schema.String, (input) =>
        Workflow.step("report", Effect.logInfo(`working on ${input}`).pipe(WorkflowContext.withAgent("reporter"))))
      yield* reporting.run("it", { runId: "run-7" }).pipe(
        Effect.provide(WorkflowEventsPubSub.layer),
        Effect.provide(logging(dir, { LOG_FORMAT: "pretty" }, { console: true }))
      )
      const [line] = readJsonLines(path.join(dir, "effect-agents-2025-03-14.log"))
      expect(line).toMatchObject({ message: "working on it", runId: "run-7", workflow: "reporting", stepId: "step-1", agent: "reporter" })
      const console = output.stderr.find((s) => s.includes("working on it"))
      expect(console).toContain("agent=reporter runId=run-7 stepId=step-1 workflow=reporting")
    }))
})

describe("secrets", () => {
  const secret = "sk-live-0123456789abcdef"

  it.effect("a Redacted annotation or message value is printed as <redacted> everywhere", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      const output = captureOutput()
      const recent = yield* Effect.gen(function*() {
        yield* Effect.log("calling provider", Redacted.make(secret), { apiKey: Redacted.make(secret) })
        return yield* LogTail.recent
      }).pipe(
        Effect.annotateLogs("apiKey", Redacted.make(secret)),
        Effect.provide(logging(dir, { LOG_FORMAT: "pretty" }, { console: true, color: true }))
      )
      const fileText = fs.readFileSync(path.join(dir, Logging.logFileName(0)), "utf8")
      const everything = [fileText, JSON.stringify(recent), ...output.stderr, ...output.stdout].join("\n")
      expect(everything).not.toContain(secret)
      const [line] = readJsonLines(path.join(dir, Logging.logFileName(0)))
      expect(line?.["apiKey"]).toBe("<redacted>")
      expect(line?.["message"]).toBe("calling provider <redacted> {\"apiKey\":\"<redacted>\"}")
      expect(output.stderr.join("")).toContain("apiKey=")
    }))
})

describe("console sink", () => {
  it.effect("console: false writes nothing to stderr or stdout", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      const output = captureOutput()
      yield* Effect.logError("quiet while the TUI draws").pipe(Effect.provide(logging(dir)))
      expect(output.stderr.join("")).not.toContain("quiet while the TUI draws")
      expect(output.stdout.join("")).not.toContain("quiet while the TUI draws")
      expect(readJsonLines(path.join(dir, Logging.logFileName(0))).map((l) => l["message"]))
        .toEqual(["quiet while the TUI draws"])
    }))

  it.effect("console: true writes JSON lines to stderr, never stdout", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      const output = captureOutput()
      yield* Effect.log("to stderr").pipe(Effect.provide(logging(dir, {}, { console: true })))
      const lines = output.stderr.filter((s) => s.includes("to stderr"))
      expect(lines).toHaveLength(1)
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: "INFO", message: "to stderr" })
      expect(output.stdout.join("")).not.toContain("to stderr")
    }))

  it.effect("pretty format prints a one-liner with level, message and key=value annotations", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      const output = captureOutput()
      yield* Effect.logWarning("retrying call").pipe(
        Effect.annotateLogs({ agent: "writer", reason: "rate limited" }),
        Effect.provide(logging(dir, { LOG_FORMAT: "pretty" }, { console: true }))
      )
      const [line] = output.stderr.filter((s) => s.includes("retrying call"))
      expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARNING retrying call agent=writer reason="rate limited"\n$/)
    }))

  it.effect("pretty format colours the level only when asked", () =>
    Effect.gen(function*() {
      const output = captureOutput()
      yield* Effect.log("plain").pipe(Effect.provide(logging(freshDir(), { LOG_FORMAT: "pretty" }, { console: true })))
      yield* Effect.log("coloured").pipe(
        Effect.provide(logging(freshDir(), { LOG_FORMAT: "pretty" }, { console: true, color: true }))
      )
      const plain = output.stderr.find((s) => s.includes("plain"))
      const coloured = output.stderr.find((s) => s.includes("coloured"))
      expect(plain).not.toContain("\x1b[")
      expect(coloured).toContain("\x1b[32mINFO")
    }))
})

describe("layer lifetime", () => {
  it.effect("after the layer is released, entries no longer reach its file or the console", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      const output = captureOutput()
      yield* Effect.log("inside").pipe(Effect.provide(logging(dir, {}, { console: true })))
      yield* Effect.logError("outside")
      const lines = readJsonLines(path.join(dir, Logging.logFileName(0)))
      expect(lines.map((l) => l["message"])).toEqual(["inside"])
      expect(output.stderr.join("")).not.toContain("outside")
    }))
})

describe("LogTail", () => {
  it.effect("keeps the most recent entries, oldest first, up to its capacity", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      const layer = Logging.layer({ console: false, tailCapacity: 3 }).pipe(
        Layer.provide(testConfigLayer({ LOG_DIR: dir }))
      )
      const recent = yield* Effect.gen(function*() {
        for (const n of [1, 2, 3, 4, 5]) yield* Effect.log(`entry ${n}`)
        return yield* LogTail.recent
      }).pipe(Effect.provide(layer))
      expect(recent.map((e) => e.message)).toEqual(["entry 3", "entry 4", "entry 5"])
    }))

  it.effect("a subscription receives every entry logged after it started", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      const received = yield* Effect.gen(function*() {
        yield* Effect.log("before")
        const entries = yield* LogTail.subscribe
        yield* Effect.log("one").pipe(Effect.annotateLogs("agent", "writer"))
        yield* Effect.logWarning("two")
        return yield* Stream.runCollect(Stream.take(entries, 2))
      }).pipe(Effect.scoped, Effect.provide(logging(dir)))
      const entries = Chunk.toReadonlyArray(received)
      expect(entries.map((e) => [e.level, e.message])).toEqual([["INFO", "one"], ["WARNING", "two"]])
      expect(entries[0]?.annotations).toEqual({ agent: "writer" })
    }))

  it.effect("follow gives the history, then live entries, with no gap or repeat", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      const received = yield* Effect.gen(function*() {
        yield* Effect.log("a")
        yield* Effect.log("b")
        const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(LogTail.follow, 3)))
        yield* Effect.log("c")
        return yield* Fiber.join(fiber)
      }).pipe(Effect.provide(logging(dir)))
      expect(Chunk.toReadonlyArray(received).map((e) => e.message)).toEqual(["a", "b", "c"])
    }))

  it.effect("entries carry the Clock's timestamp", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      yield* TestClock.setTime(MAR_14_0930)
      const recent = yield* Effect.zipRight(Effect.log("tick"), LogTail.recent).pipe(Effect.provide(logging(dir)))
      expect(recent[0]?.timestamp).toBe(MAR_14_0930)
    }))
})

// Open descriptors are read from /proc, so this runs where /proc exists (Linux, as in CI).
describe.runIf(process.platform === "linux")("log file descriptors", () => {
  it.effect("one file is open at a time: yesterday's closes on rotation, all on release", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      yield* TestClock.setTime(Date.UTC(2025, 0, 31, 23, 59, 30))
      const during = yield* Effect.gen(function*() {
        yield* Effect.log("before midnight")
        const beforeRotation = openFilesUnder(dir)
        yield* TestClock.adjust("1 minute")
        yield* Effect.log("after midnight")
        return { beforeRotation, afterRotation: openFilesUnder(dir) }
      }).pipe(Effect.provide(logging(dir)))
      expect(during.beforeRotation).toEqual([path.join(dir, "effect-agents-2025-01-31.log")])
      expect(during.afterRotation).toEqual([path.join(dir, "effect-agents-2025-02-01.log")])
      expect(openFilesUnder(dir)).toEqual([])
    }))
})
