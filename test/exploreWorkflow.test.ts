/**
 * The shipped `explore` workflow on the simulated provider (no key): the agent calls its file tools,
 * the calls are events and part of the run history, and the answer decodes. The file tools against
 * a real directory: they search and read inside it and never outside.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Queue } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FileTools from "../src/agents/workflows/fileTools.js"
import { explore } from "../src/agents/workflows/explore.js"
import * as TestLayer from "../src/layers/TestLayer.js"
import * as RunHistory from "../src/services/RunHistory.js"
import { subscribe } from "../src/services/WorkflowEvents.js"

const project = () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "explore-"))
  fs.writeFileSync(path.join(root, "README.md"), "# Demo\nThe retry policy waits between attempts.\n")
  fs.mkdirSync(path.join(root, "src"))
  fs.writeFileSync(path.join(root, "src", "retry.ts"), "export const retry = 'retry with backoff'\n")
  fs.mkdirSync(path.join(root, "node_modules"))
  fs.writeFileSync(path.join(root, "node_modules", "x.md"), "retry inside node_modules\n")
  fs.writeFileSync(path.join(os.tmpdir(), `secret-${path.basename(root)}.txt`), "top secret")
  return root
}

/** Calls a file tool as an agent would, with the handlers over `root`. */
const callTool = (root: string, name: "searchFiles" | "readFile", params: { query: string } | { path: string }) =>
  Effect.flatMap(FileTools.toolkit, (kit) => kit.handle(name, params as never)).pipe(Effect.provide(FileTools.layer(root)))

describe("file tools", () => {
  it.scoped("search the lines of the project's text files, skipping node_modules", () =>
    Effect.gen(function*() {
      const root = project()
      const found = yield* callTool(root, "searchFiles", { query: "retry" })
      expect(found.result).toEqual([
        { path: "README.md", line: 2, text: "The retry policy waits between attempts." },
        { path: path.join("src", "retry.ts"), line: 1, text: "export const retry = 'retry with backoff'" }
      ])
    }))

  it.scoped("read a file inside the root, and refuse one outside it (also through a symlink)", () =>
    Effect.gen(function*() {
      const root = project()
      fs.symlinkSync(os.tmpdir(), path.join(root, "escape"))
      const read = (p: string) => callTool(root, "readFile", { path: p })
      expect((yield* read("README.md")).result).toContain("retry policy")
      const secret = `secret-${path.basename(root)}.txt`
      for (const p of [`../${secret}`, `escape/${secret}`, "/etc/passwd"]) {
        const outside = yield* read(p)
        expect(outside.isFailure).toBe(true)
        expect(outside.result).toMatchObject({ _tag: "FileToolError", reason: "outside the project root" })
      }
      expect((yield* read("missing.md")).result).toMatchObject({ reason: "not found" })
    }))
})

describe("explore workflow", () => {
  it.scoped("runs on the simulated provider: both tools are called, shown as events and stored in the history", () =>
    Effect.gen(function*() {
      const events = yield* subscribe
      const report = yield* explore.runReport("How does the project retry failed calls?", { runId: "explore-1" })
      expect(report.status).toBe("succeeded")
      const output = report.output as { answer: unknown; sources: unknown }
      expect(typeof output.answer).toBe("string")
      expect(Array.isArray(output.sources)).toBe(true)
      const seen = Chunk.toReadonlyArray(yield* Queue.takeAll(events))
      const finished = seen.flatMap((e) => (e._tag === "ToolCallFinished" ? [e] : []))
      expect(finished.map((e) => e.tool).sort()).toEqual(["readFile", "searchFiles"])
      expect(finished.every((e) => e.runId === "explore-1" && e.stepId !== undefined && e.agent === "explorer")).toBe(true)
      yield* RunHistory.flush("5 seconds")
      const history = yield* RunHistory.RunHistory
      const stored = yield* history.eventsAfter({ after: 0, runId: "explore-1", limit: 1_000 })
      expect(stored.map((e) => e.event._tag)).toEqual(expect.arrayContaining(["ToolCallStarted", "ToolCallFinished"]))
    }).pipe(Effect.provide(TestLayer.layer().pipe(Layer.orDie))))
})
