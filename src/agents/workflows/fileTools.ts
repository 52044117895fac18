/**
 * fileTools — read-only tools over the files under one directory: search their lines for words,
 * read one file. Paths are resolved inside the root and checked after symlinks are followed, so a
 * model cannot read outside it; hidden and build directories are skipped, and every answer is
 * bounded (files scanned, bytes read, matches returned). Errors go back to the model.
 */
import * as Tool from "@effect/ai/Tool"
import * as Toolkit from "@effect/ai/Toolkit"
import { Effect, Schema } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"

/** A file or directory the tools cannot give: missing, outside the root, or unreadable. */
export class FileToolError extends Schema.TaggedError<FileToolError>()("FileToolError", {
  path: Schema.String,
  reason: Schema.String
}) {}

const Match = Schema.Struct({ path: Schema.String, line: Schema.Number, text: Schema.String })

export const SearchFiles = Tool.make("searchFiles", {
  description: "Finds lines of the project's text files containing any of the query's words (at most 20).",
  parameters: { query: Schema.String.annotations({ description: "Words to look for" }) },
  success: Schema.Array(Match),
  failure: FileToolError,
  failureMode: "return"
})

export const ReadFile = Tool.make("readFile", {
  description: "Reads the start of a project file (at most 4 KB), by its path relative to the project root.",
  parameters: { path: Schema.String.annotations({ description: "A path relative to the project root" }) },
  success: Schema.String,
  failure: FileToolError,
  failureMode: "return"
})

/** The file tools. */
export const toolkit = Toolkit.make(SearchFiles, ReadFile)

const SKIPPED = new Set(["node_modules", "dist", "coverage"])
const TEXT = /\.(md|txt|ts|tsx|js|mjs|json|ya?ml|toml)$/i
const MAX_FILES = 400
const MAX_FILE_BYTES = 256 * 1024
const MAX_MATCHES = 20
const READ_BYTES = 4 * 1024

/** `relative` inside `root`, symlinks followed; fails when it leaves the root or does not exist. */
const inside = (root: string, relative: string) =>
  Effect.tryPromise({
    try: async () => {
      const real = await fs.realpath(path.resolve(root, relative))
      if (real !== root && !real.startsWith(root + path.sep)) throw new Error("outside the project root")
      return real
    },
    catch: (e) => new FileToolError({ path: relative, reason: e instanceof Error && e.message === "outside the project root" ? e.message : "not found" })
  })

/** Text files under `root`, breadth first, at most `MAX_FILES`. */
const textFiles = async (root: string): Promise<Array<string>> => {
  const out: Array<string> = []
  const queue = [root]
  while (queue.length > 0 && out.length < MAX_FILES) {
    const dir = queue.shift()!
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => [])
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith(".") || SKIPPED.has(entry.name)) continue
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) queue.push(full)
      else if (entry.isFile() && TEXT.test(entry.name) && out.length < MAX_FILES) out.push(full)
    }
  }
  return out
}

const search = (root: string, query: string) =>
  Effect.tryPromise({
    try: async () => {
      const words = query.toLowerCase().split(/\W+/).filter((w) => w.length >= 3)
      const matches: Array<typeof Match.Type> = []
      if (words.length === 0) return matches
      for (const file of await textFiles(root)) {
        const stat = await fs.stat(file)
        if (stat.size > MAX_FILE_BYTES) continue
        const lines = (await fs.readFile(file, "utf8")).split("\n")
        for (let i = 0; i < lines.length && matches.length < MAX_MATCHES; i++) {
          const line = lines[i]!.toLowerCase()
          if (words.some((w) => line.includes(w))) {
            matches.push({ path: path.relative(root, file), line: i + 1, text: lines[i]!.trim().slice(0, 200) })
          }
        }
        if (matches.length >= MAX_MATCHES) break
      }
      return matches
    },
    catch: () => new FileToolError({ path: ".", reason: "the project could not be searched" })
  })

const read = (root: string, relative: string) =>
  Effect.flatMap(inside(root, relative), (file) =>
    Effect.tryPromise({
      try: async () => {
        const handle = await fs.open(file, "r")
        try {
          const buffer = Buffer.alloc(READ_BYTES)
          const { bytesRead } = await handle.read(buffer, 0, READ_BYTES, 0)
          return buffer.subarray(0, bytesRead).toString("utf8")
        } finally {
          await handle.close()
        }
      },
      catch: () => new FileToolError({ path: relative, reason: "not a readable file" })
    }))

/** The handlers of the file tools over the files under `root` (resolved when the layer is built). */
export const layer = (root: string) =>
  toolkit.toLayer(Effect.map(
    Effect.promise(() => fs.realpath(path.resolve(root)).catch(() => path.resolve(root))),
    (real) => toolkit.of({ searchFiles: ({ query }) => search(real, query), readFile: ({ path: p }) => read(real, p) })
  ))
