/**
 * Unusable DATA_DIR / LOG_DIR, as a user meets them: every command that writes there exits 2 at
 * once with one line naming the variable, the path and why. Before, `/proc/...` made Node's
 * recursive mkdir spin forever at 100 % CPU, deaf to SIGTERM.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { type CliResult, runCli } from "./support/cli.js"

const scratch = () => mkdtempSync(join(tmpdir(), "ea-badpath-"))

/** A regular file, to stand where a directory should be. */
const aFile = () => {
  const file = join(scratch(), "plain-file")
  writeFileSync(file, "not a directory\n")
  return file
}

/**
 * An existing directory this process may not write to. Root writes through `chmod 0500`, so then a
 * directory the kernel refuses even to root is used instead.
 */
const readOnlyDir = () => {
  if (process.getuid?.() === 0) return "/proc/1"
  const dir = join(scratch(), "read-only")
  mkdirSync(dir)
  chmodSync(dir, 0o500)
  return dir
}

const batchFile = () => {
  const file = join(scratch(), "runs.jsonl")
  writeFileSync(file, "{\"workflow\":\"summarize\",\"input\":\"one\"}\n")
  return file
}

// Runs the CLI well under vitest's test timeout: `code` is null only if it had to be killed (hung).
const cli = (args: ReadonlyArray<string>, env: Record<string, string>): Promise<CliResult> =>
  runCli(args, { env: { SIM_LATENCY_MS: "0", SIM_ERROR_RATE: "0", SIM_RATE_LIMIT_RATE: "0", ...env }, cwd: scratch(), timeoutMs: 15_000 })

/** Exit 2, nothing on stdout, and exactly one line on stderr that names `key` and `path`. */
const expectOneLine = (r: CliResult, key: string, path: string, why: RegExp) => {
  expect(r.code, `stderr: ${r.stderr}`).toBe(2)
  expect(r.stdout).toBe("")
  const lines = r.stderr.trimEnd().split("\n")
  expect(lines).toHaveLength(1)
  expect(lines[0]).toContain(`InvalidConfig: Invalid configuration: ${key}: expected a writable directory, found ${JSON.stringify(path)}`)
  expect(lines[0]).toMatch(why)
}

describe.concurrent("an unusable DATA_DIR or LOG_DIR", () => {
  it("run: DATA_DIR under /proc exits 2 at once", async () => {
    const r = await cli(["run", "summarize", "--input", "hi", "--no-tui"], { DATA_DIR: "/proc/x" })
    expectOneLine(r, "DATA_DIR", "/proc/x", /cannot create \/proc\/x: ENOENT/)
  })

  it("batch: LOG_DIR under /proc exits 2 at once", async () => {
    const r = await cli(["batch", batchFile(), "--no-tui", "--json"], { LOG_DIR: "/proc/x" })
    expectOneLine(r, "LOG_DIR", "/proc/x", /cannot create \/proc\/x: ENOENT/)
  })

  it("dashboard: a DATA_DIR through a regular file exits 2", async () => {
    const file = aFile()
    const r = await cli(["dashboard"], { DATA_DIR: join(file, "data") })
    expectOneLine(r, "DATA_DIR", join(file, "data"), /exists and is not a directory/)
  })

  it("history: a DATA_DIR that is a regular file exits 2", async () => {
    const file = aFile()
    const r = await cli(["history"], { DATA_DIR: file })
    expectOneLine(r, "DATA_DIR", file, /exists and is not a directory/)
  })

  it("cache stats: a DATA_DIR it may not write to exits 2", async () => {
    const dir = readOnlyDir()
    const r = await cli(["cache", "stats"], { DATA_DIR: dir })
    expectOneLine(r, "DATA_DIR", dir, /cannot write to it: E(ACCES|PERM)/)
  })

  it("cache clear: LOG_DIR under /proc exits 2", async () => {
    const r = await cli(["cache", "clear"], { LOG_DIR: "/proc/self/logs" })
    expectOneLine(r, "LOG_DIR", "/proc/self/logs", /cannot create \/proc\/self\/logs: E[A-Z]+/)
  })

  it("config reports an unusable directory too (exit 2)", async () => {
    const r = await cli(["config"], { DATA_DIR: "/proc/x" })
    expectOneLine(r, "DATA_DIR", "/proc/x", /cannot create \/proc\/x: ENOENT/)
  })

  it("--help and workflows never touch the directories", async () => {
    const env = { DATA_DIR: "/proc/x", LOG_DIR: "/proc/x" }
    const [help, workflows] = await Promise.all([cli(["--help"], env), cli(["workflows"], env)])
    expect(help.code).toBe(0)
    expect(workflows.code).toBe(0)
    expect(workflows.stdout).toContain("summarize")
  })

  it("a DATA_DIR nothing stores in does not stop history", async () => {
    const history = join(scratch(), "history.sqlite")
    const r = await cli(["history"], { DATA_DIR: "/proc/x", CACHE_BACKEND: "memory", DATABASE_URL: `sqlite:${history}` })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain("No runs yet")
  })
})
