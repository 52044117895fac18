/**
 * Runs every benchmark in turn, each in its own Node process (so one's heap and JIT state cannot
 * colour the next), and prints their markdown reports. Started by `npm run bench`; not part of CI.
 *
 * Benchmarks: `llm-overhead.ts` (resilient LLM stack vs raw fetch and undici; cache-hit latency)
 * and `tui-render.tsx` when present.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const benchmarks = ["llm-overhead.ts", "tui-render.tsx"].map((file) => join(here, file)).filter((file) => existsSync(file))

const runOne = (file: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", file], { stdio: "inherit" })
    child.once("error", reject)
    child.once("exit", (code, signal) => resolve(code ?? (signal === null ? 1 : 128)))
  })

let failed = 0
for (const file of benchmarks) {
  process.stdout.write(`\n<!-- ${file.slice(here.length + 1)} -->\n`)
  const code = await runOne(file)
  if (code !== 0) {
    failed += 1
    process.stderr.write(`benchmark ${file} exited with ${code}\n`)
  }
}
process.exitCode = failed === 0 ? 0 : 1
