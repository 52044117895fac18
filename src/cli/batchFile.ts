/**
 * Reading a `batch` file: one `{"workflow": ..., "input": ...}` object per line.
 *
 * The whole file is checked before any run starts, so a bad file costs nothing: every bad line is
 * named with its reason (JSON, workflow, input — the input against the workflow's own Schema), up
 * to `MAX_LISTED` of them. A file that is not text (NUL bytes, invalid UTF-8) or is over the limits
 * (`MAX_BYTES`, `MAX_RUNS`) is refused with one line.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Either, Option } from "effect"
import { WorkflowRegistry, type WorkflowRegistryService } from "../agents/registry.js"
import type { AnyWorkflow } from "../agents/Workflow.js"
import { UsageError } from "./CliError.js"

/** The largest batch file accepted: 64 MiB. */
export const MAX_BYTES = 64 * 1024 * 1024
/** The most runs one batch file may hold. */
export const MAX_RUNS = 100_000
/** Bad lines listed at most; the rest are counted. */
export const MAX_LISTED = 20
const MAX_REASON = 200

/** One run of a batch file. */
export interface BatchItem {
  /** 1-based line number in the file. */
  readonly line: number
  readonly workflow: AnyWorkflow
  readonly input: unknown
}

const clip = (text: string): string => (text.length > MAX_REASON ? `${text.slice(0, MAX_REASON - 1)}…` : text)

/** Why one line is not a run, or the run it is. */
const checkLine = (
  registry: WorkflowRegistryService,
  raw: string
): Effect.Effect<Either.Either<{ workflow: AnyWorkflow; input: unknown }, string>> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return Effect.succeed(Either.left("not valid JSON"))
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return Effect.succeed(Either.left(`expected an object like {"workflow": "summarize", "input": "..."}`))
  }
  const record = parsed as Record<string, unknown>
  const name = record["workflow"]
  if (name === undefined) return Effect.succeed(Either.left(`"workflow" is missing`))
  if (typeof name !== "string") return Effect.succeed(Either.left(`"workflow" must be a string`))
  const found = registry.find(name)
  if (Option.isNone(found)) {
    return Effect.succeed(Either.left(`unknown workflow '${clip(name)}' (available: ${registry.names.join(", ")})`))
  }
  if (!("input" in record)) return Effect.succeed(Either.left(`"input" is missing`))
  const workflow = found.value
  const input = record["input"]
  return workflow.validateInput(input).pipe(
    Effect.as(Either.right({ workflow, input })),
    Effect.catchAll((e) => Effect.succeed(Either.left(`input: ${e.summary}`)))
  )
}

/** The text of the file, or why it is not a batch file (too large, not text). */
const readText = (path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const cannotRead = (e: { readonly message: string }) => new UsageError({ message: `cannot read ${path}: ${e.message}` })
    const info = yield* fs.stat(path).pipe(Effect.mapError(cannotRead))
    if (info.type !== "File") return yield* new UsageError({ message: `${path} is not a file` })
    if (Number(info.size) > MAX_BYTES) {
      const mib = (Number(info.size) / 1024 / 1024).toFixed(1)
      return yield* new UsageError({ message: `${path} is too large (${mib} MiB; a batch file may hold at most 64 MiB)` })
    }
    const bytes = yield* fs.readFile(path).pipe(Effect.mapError(cannotRead))
    if (bytes.includes(0)) return yield* new UsageError({ message: `${path} is not a JSONL text file (it contains NUL bytes)` })
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes)
    } catch {
      return yield* new UsageError({ message: `${path} is not a JSONL text file (it is not valid UTF-8)` })
    }
  })

/** Reads and checks a batch file; fails with `UsageError` (exit 2) naming every bad line. */
export const readBatch = (path: string) =>
  Effect.gen(function*() {
    const registry = yield* WorkflowRegistry
    const text = yield* readText(path)
    const lines = text.split("\n").map((raw, index) => ({ raw, line: index + 1 })).filter((l) => l.raw.trim() !== "")
    if (lines.length > MAX_RUNS) {
      return yield* new UsageError({ message: `${path} has ${lines.length} runs; a batch file may hold at most ${MAX_RUNS}` })
    }
    if (lines.length === 0) return yield* new UsageError({ message: `${path} has no runs` })
    const items: Array<BatchItem> = []
    const problems: Array<string> = []
    for (const { line, raw } of lines) {
      const checked = yield* checkLine(registry, raw)
      if (Either.isRight(checked)) items.push({ line, ...checked.right })
      else problems.push(`line ${line}: ${clip(checked.left)}`)
    }
    if (problems.length > 0) {
      const listed = problems.slice(0, MAX_LISTED)
      const more = problems.length > MAX_LISTED ? [`… and ${problems.length - MAX_LISTED} more`] : []
      return yield* new UsageError({
        message: `${path}: ${problems.length} of ${lines.length} lines are not valid runs; nothing was run:\n  ${[...listed, ...more].join("\n  ")}`
      })
    }
    return items
  })
