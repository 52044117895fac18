/**
 * A user's project outside `src/`: a temporary directory whose `node_modules` holds this package
 * (a link to the checkout, so `import "effect-agents"` reaches the built `dist/`) and `effect`,
 * as after `npm install effect-agents`. Tests write the user's workflow modules and bins into it.
 *
 * The package's `dist/` is built by `tsc` (the CLI bundle alone is built by the global setup);
 * `ensureLibraryBuilt` rebuilds it when a source is newer than the last build, one test worker at
 * a time.
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))
// Beside the checkout, not in it: nothing to ignore in git nor to keep out of the package.
const key = createHash("sha256").update(root).digest("hex").slice(0, 12)
const stamp = join(tmpdir(), `effect-agents-${key}.tsc-build`)
const lock = join(tmpdir(), `effect-agents-${key}.tsc-lock`)

const newest = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((max, entry) => {
    const path = join(dir, entry.name)
    return Math.max(max, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }, 0)

const mtime = (path: string): number => {
  try {
    return statSync(path).mtimeMs
  } catch {
    return 0
  }
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/** Runs `tsc -p tsconfig.build.json` unless `dist/` is newer than every file of `src/`. */
export const ensureLibraryBuilt = (): void => {
  for (;;) {
    try {
      mkdirSync(lock)
      break
    } catch {
      // A lock left by a killed worker is broken after five minutes.
      if (Date.now() - mtime(lock) > 300_000) rmSync(lock, { recursive: true, force: true })
      pause(500)
    }
  }
  try {
    const built = mtime(join(root, "dist", "cli", "index.js")) > 0
    if (built && mtime(stamp) > newest(join(root, "src"))) return
    execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
      cwd: root,
      stdio: "inherit"
    })
    writeFileSync(stamp, new Date().toISOString())
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

/** A new project directory with `effect-agents` and `effect` installed (linked); returns its path. */
export const makeUserProject = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "ea-user-"))
  mkdirSync(join(dir, "node_modules"))
  symlinkSync(root, join(dir, "node_modules", "effect-agents"), "dir")
  symlinkSync(realpathSync(join(root, "node_modules", "effect")), join(dir, "node_modules", "effect"), "dir")
  return dir
}

/**
 * A workflow module as a user writes one: `triage` classifies a ticket with one agent; it imports
 * the package by name.
 */
export const triageModule = `
import { Schema } from "effect"
import { Agent, Workflow } from "effect-agents"

const classifier = Agent.make({
  name: "classifier",
  instructions: "Classify the support ticket: its priority and the team that should take it.",
  input: Schema.String,
  output: Schema.Struct({ priority: Schema.Literal("low", "high"), team: Schema.String })
})

export const triage = Workflow.make("triage", "Route a support ticket to a team", Schema.NonEmptyString, (ticket) =>
  Workflow.step("classify", classifier.run(ticket), { agent: classifier.name }))

export const teams = ["billing", "hardware"]
`
