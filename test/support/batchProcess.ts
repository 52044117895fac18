/**
 * A `batch` of the built CLI running in the background, so a test can break its history store
 * (or kill it) while runs are in flight, then check what the history kept.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { binPath, runCli } from "./cli.js"

/** The simulated provider, no limiter and no retries of a failed call: runs take only latency. */
export const simulatedEnv = (dataDir: string, extra: Readonly<Record<string, string>> = {}): Record<string, string> => ({
  SIM_LATENCY_MS: "150",
  SIM_ERROR_RATE: "0",
  SIM_RATE_LIMIT_RATE: "0",
  RATE_LIMIT_ENABLED: "false",
  CACHE_ENABLED: "false",
  DATA_DIR: dataDir,
  LOG_DIR: `${dataDir}/logs`,
  ...extra
})

/** Writes a JSONL batch of `runs` research questions to `file`. */
export const writeBatch = (file: string, runs: number): void => {
  const lines = Array.from({ length: runs }, (_, i) => JSON.stringify({ workflow: "research", input: `question ${i} about rivers` }))
  writeFileSync(file, lines.join("\n") + "\n")
}

/** A running batch. */
export interface BatchProcess {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves once `n` runs have printed that they succeeded (rejects if the batch exits first). */
  readonly succeeded: (n: number) => Promise<void>
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

const succeededLines = (text: string) => text.split("\n").filter((line) => / research succeeded in /.test(line)).length

/** Starts `effect-agents batch <file> --no-tui --json --concurrency 8` with exactly `env`. */
export const startBatch = (file: string, env: Readonly<Record<string, string>>, cwd: string): BatchProcess => {
  const child = spawn(process.execPath, [binPath, "batch", file, "--no-tui", "--json", "--concurrency", "8"], {
    cwd,
    env: { PATH: process.env["PATH"] ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  const waiters: Array<{ n: number; resolve: () => void }> = []
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()))
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString()
    const done = succeededLines(stderr)
    for (const w of waiters.filter((w) => w.n <= done)) {
      waiters.splice(waiters.indexOf(w), 1)
      w.resolve()
    }
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal }))
  )
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    succeeded: (n) =>
      new Promise<void>((resolve, reject) => {
        if (succeededLines(stderr) >= n) return resolve()
        waiters.push({ n, resolve })
        void exited.then(({ code }) => reject(new Error(`batch exited (${code}) before ${n} runs succeeded:\n${stderr}`)))
      })
  }
}

/** One line of `history --json`'s runs. */
export interface HistoryRun {
  readonly id: string
  readonly status: string
}

/** `effect-agents history --json --limit 500` with `env`: the runs it lists. */
export const historyRuns = async (env: Readonly<Record<string, string>>, cwd: string): Promise<ReadonlyArray<HistoryRun>> => {
  const result = await runCli(["history", "--json", "--limit", "500"], { env, cwd })
  if (result.code !== 0) throw new Error(`history exited ${result.code}: ${result.stderr}`)
  return (JSON.parse(result.stdout) as { runs: ReadonlyArray<HistoryRun> }).runs
}

/** Parses `--json` stdout: one JSON object per line and nothing else (throws otherwise). */
export const jsonLines = (stdout: string): ReadonlyArray<{ readonly id: string; readonly status: string; readonly steps: ReadonlyArray<{ readonly cached: boolean }> }> =>
  stdout.trimEnd().split("\n").filter((line) => line !== "").map((line) => JSON.parse(line))
