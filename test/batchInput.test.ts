/**
 * A batch file is checked in full before any run starts: bad lines are listed with their reason
 * (the workflow's input Schema included), files that are not text or are too large are refused in
 * one line, and nothing runs (the history stays empty) — exit 2 in every case.
 */
import { mkdtempSync, truncateSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli } from "./support/cli.js"

const env = { SIM_LATENCY_MS: "0", SIM_ERROR_RATE: "0", SIM_RATE_LIMIT_RATE: "0" }

/** Runs `batch` on a file written by `write` in a fresh directory; returns the result and the history. */
const batchOf = async (write: (path: string) => void) => {
  const cwd = mkdtempSync(join(tmpdir(), "ea-batchin-"))
  write(join(cwd, "runs.jsonl"))
  const r = await runCli(["batch", "runs.jsonl", "--no-tui", "--json"], { cwd, env })
  const history = await runCli(["history", "--json"], { cwd, env })
  const runs = (JSON.parse(history.stdout) as { runs: ReadonlyArray<unknown> }).runs
  return { ...r, runs }
}

describe("batch file checks", () => {
  it("lists every bad line with its reason, input Schema included, and runs nothing", async () => {
    const r = await batchOf((path) =>
      writeFileSync(path, [
        `{"workflow":"summarize","input":"a good line"}`,
        `{"workflow":"summarize","input":""}`,
        `{"workflow":"summarize","input":42}`,
        `{"workflow":"nope","input":"x"}`,
        `not json`,
        `{"input":"x"}`,
        `{"workflow":"research"}`,
        `["summarize","x"]`
      ].join("\n"))
    )
    expect(r.code).toBe(2)
    expect(r.stdout).toBe("")
    expect(r.stderr).toContain("7 of 8 lines are not valid runs; nothing was run")
    expect(r.stderr).toContain(`line 2: input: Expected a non empty string, actual ""`)
    expect(r.stderr).toContain("line 3: input: Expected string, actual 42")
    expect(r.stderr).toContain("line 4: unknown workflow 'nope' (available: code, explore, research, summarize)")
    expect(r.stderr).toContain("line 5: not valid JSON")
    expect(r.stderr).toContain(`line 6: "workflow" is missing`)
    expect(r.stderr).toContain(`line 7: "input" is missing`)
    expect(r.stderr).toContain("line 8: expected an object")
    expect(r.stderr).not.toContain("line 1:")
    expect(r.runs).toEqual([])
  })

  it("lists the first 20 bad lines and counts the rest", async () => {
    const r = await batchOf((path) => writeFileSync(path, Array.from({ length: 50 }, () => `{"workflow":"summarize","input":""}`).join("\n")))
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("line 20: input:")
    expect(r.stderr).not.toContain("line 21:")
    expect(r.stderr).toContain("… and 30 more")
    expect(r.stderr.split("\n").length).toBeLessThan(30)
    expect(r.runs).toEqual([])
  })

  it("refuses a binary file in one line", async () => {
    const bytes = Buffer.alloc(4096)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 256
    const r = await batchOf((path) => writeFileSync(path, bytes))
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe("UsageError: runs.jsonl is not a JSONL text file (it contains NUL bytes)")
    expect(r.runs).toEqual([])
  })

  it("refuses text that is not UTF-8 in one line", async () => {
    const r = await batchOf((path) => writeFileSync(path, Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a])))
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe("UsageError: runs.jsonl is not a JSONL text file (it is not valid UTF-8)")
  })

  it("refuses a file over 64 MiB without reading it", async () => {
    const r = await batchOf((path) => {
      writeFileSync(path, "")
      truncateSync(path, 65 * 1024 * 1024) // sparse: no disk used
    })
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe("UsageError: runs.jsonl is too large (65.0 MiB; a batch file may hold at most 64 MiB)")
    expect(r.runs).toEqual([])
  })

  it("refuses more than 100,000 runs", async () => {
    const line = `{"workflow":"summarize","input":"x"}\n`
    const r = await batchOf((path) => writeFileSync(path, line.repeat(100_001)))
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe("UsageError: runs.jsonl has 100001 runs; a batch file may hold at most 100000")
    expect(r.runs).toEqual([])
  })
})
