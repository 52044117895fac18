/**
 * The run history of a real `batch` (the built CLI, simulated provider) while its store fails
 * under it: PostgreSQL backends terminated twice mid-batch or connections refused for 3 s, the
 * SQLite file locked by another process for 3 s, and the process killed with SIGKILL. Every run must
 * end up in the history in a final state, and `--json` stdout must stay one JSON object per line.
 */
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type BatchProcess, historyRuns, jsonLines, simulatedEnv, startBatch, writeBatch } from "./support/batchProcess.js"

const project = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const root = mkdtempSync(join(tmpdir(), "effect-agents-history-faults-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let dirs = 0
const freshDir = () => join(root, `d${++dirs}`)

/** A fresh data directory with a batch file of `RUNS` runs, and the simulated provider's env for it. */
const prepare = (extra: Readonly<Record<string, string>> = {}) => {
  const dir = freshDir()
  const file = join(dir, "batch.jsonl")
  mkdirSync(dir, { recursive: true })
  writeBatch(file, RUNS)
  return { dir, env: simulatedEnv(dir, extra), file }
}

const RUNS = 60

/** stderr lines of the recorder's outage reports. */
const outageLines = (stderr: string) => ({
  down: stderr.split("\n").filter((l) => l.includes("Run history: cannot write")),
  back: stderr.split("\n").filter((l) => l.includes("Run history: writing again after"))
})

const expectEveryRunFinal = (runs: ReadonlyArray<{ id: string; status: string }>, printed: ReadonlyArray<{ id: string }>) => {
  expect(runs).toHaveLength(RUNS)
  expect(runs.filter((r) => r.status !== "succeeded")).toEqual([])
  expect(runs.map((r) => r.id).sort()).toEqual(printed.map((r) => r.id).sort())
}

/**
 * The batch ended well through one outage of its history: exit 0, one warning naming `reason`, one
 * recovery line, every run printed and final in the history (runs of the batch only: a shared
 * PostgreSQL database may hold others).
 */
const expectOneOutage = async (batch: BatchProcess, reason: string, env: Readonly<Record<string, string>>, dir: string) => {
  const { code } = await batch.exited
  expect(code).toBe(0)
  const outage = outageLines(batch.stderr())
  expect(outage.down).toEqual([expect.stringContaining(reason)])
  expect(outage.back).toHaveLength(1)
  const printed = jsonLines(batch.stdout())
  expect(printed).toHaveLength(RUNS)
  expectEveryRunFinal((await historyRuns(env, dir)).filter((r) => printed.some((p) => p.id === r.id)), printed)
}

const adminUrl = process.env["DATABASE_URL_PG"]

describe.runIf(adminUrl !== undefined)("history on PostgreSQL when its connections fail", () => {
  const database = `ea_history_faults_${process.pid}_${Date.now()}`
  const admin = async <A>(f: (client: pg.Client) => Promise<A>): Promise<A> => {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 })
    await client.connect()
    try {
      return await f(client)
    } finally {
      await client.end()
    }
  }
  const url = () => {
    const u = new URL(adminUrl!)
    u.pathname = `/${database}`
    return u.toString()
  }
  // Fails (not skips) when DATABASE_URL_PG is set but the server is unreachable.
  beforeAll(() => admin((c) => c.query(`CREATE DATABASE ${database}`)))
  afterAll(() => admin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)))

  /** Terminates every backend of the batch, again and again for a moment, so in-flight writes fail. */
  const terminateBackends = () =>
    admin(async (c) => {
      let killed = 0
      for (let i = 0; i < 20; i++) {
        const r = await c.query(
          "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'effect-agents' AND datname = $1",
          [database]
        )
        killed += (r.rows[0] as { n: number }).n
      }
      return killed
    })

  it("a batch of 60 runs survives two rounds of pg_terminate_backend: exit 0, clean --json, every run succeeded", async () => {
    const { dir, env, file } = prepare({ DATABASE_URL: url(), SIM_LATENCY_MS: "200" })
    const batch = startBatch(file, env, dir)
    await batch.succeeded(10)
    const first = await terminateBackends()
    await batch.succeeded(30)
    const second = await terminateBackends()
    const { code } = await batch.exited

    expect(first + second).toBeGreaterThan(0) // the store really lost its connections
    expect({ code, stderr: batch.stderr().split("\n").filter((l) => !l.startsWith("[")) }).toMatchObject({ code: 0 })
    const printed = jsonLines(batch.stdout())
    expect(printed).toHaveLength(RUNS)
    expectEveryRunFinal(await historyRuns(env, dir), printed)
  }, 90_000)

  it("a batch of 60 runs while the database refuses connections for 3 s, as during a restart: one warning, one recovery line", async () => {
    const { dir, env, file } = prepare({ DATABASE_URL: url(), SIM_LATENCY_MS: "200" })
    const batch = startBatch(file, env, dir)
    await batch.succeeded(10)
    await admin((c) => c.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`))
    try {
      await terminateBackends()
      await new Promise((done) => setTimeout(done, 3_000))
    } finally {
      await admin((c) => c.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`))
    }
    await expectOneOutage(batch, "is not currently accepting connections", env, dir)
  }, 90_000)
})

describe("history on SQLite while another process holds the file's write lock", () => {
  /** A child that holds `BEGIN EXCLUSIVE` on `file` for `ms`; resolves once it holds it. */
  const lockFile = (file: string, ms: number) =>
    new Promise<Promise<void>>((resolveLocked, reject) => {
      const source = `const db = new (require("better-sqlite3"))(${JSON.stringify(file)});
        db.exec("BEGIN EXCLUSIVE"); console.log("locked");
        setTimeout(() => { db.exec("COMMIT"); db.close(); }, ${ms});`
      const child = spawn(process.execPath, ["-e", source], { cwd: project, stdio: ["ignore", "pipe", "pipe"] })
      const released = new Promise<void>((done) => child.on("close", () => done()))
      let err = ""
      child.stderr.on("data", (d: Buffer) => (err += d.toString()))
      child.stdout.on("data", (d: Buffer) => d.toString().includes("locked") && resolveLocked(released))
      child.on("close", (code) => code !== 0 && reject(new Error(`locker exited ${code}: ${err}`)))
    })

  it("a batch of 60 runs while the history is locked for 3 s: one warning, one recovery line, every run succeeded", async () => {
    const { dir, env, file } = prepare()
    const batch = startBatch(file, env, dir)
    await batch.succeeded(10)
    const released = await lockFile(join(dir, "history.sqlite"), 3_000)
    await released
    await expectOneOutage(batch, "database is locked", env, dir)
  }, 90_000)
})

describe("history after kill -9 mid-batch", () => {
  it("the next history shows no run as running, and rerunning the batch reuses the cached answers", async () => {
    const { dir, env, file } = prepare({ CACHE_ENABLED: "true", CACHE_BACKEND: "sqlite" })
    const batch = startBatch(file, env, dir)
    await batch.succeeded(15)
    batch.child.kill("SIGKILL")
    expect((await batch.exited).signal).toBe("SIGKILL")

    const after = await historyRuns(env, dir)
    expect(after.length).toBeGreaterThanOrEqual(15)
    expect(after.filter((r) => r.status === "running")).toEqual([])
    expect(after.some((r) => r.status === "interrupted")).toBe(true) // the runs in flight at the kill

    const rerun = startBatch(file, env, dir)
    const { code } = await rerun.exited
    expect(code).toBe(0)
    const printed = jsonLines(rerun.stdout())
    expect(printed).toHaveLength(RUNS)
    expect(printed.filter((r) => r.steps.some((s) => s.cached)).length).toBeGreaterThanOrEqual(10)
  }, 90_000)
})
