/**
 * Runs every benchmark in turn, each in its own Node process (so one's heap and JIT state cannot
 * colour the next), and prints their markdown reports. Started by `npm run bench`; not part of CI.
 *
 * Each benchmark is first bundled by esbuild (dependencies external) and run by plain `node`: the
 * code measured is then compiled the way users get it (`tsc` for the library, esbuild for the CLI).
 * Run through `tsx`, every closure the code creates pays a `__name(...)` property definition
 * (esbuild's `keepNames`, which tsx turns on), and closures made per call are the norm in Effect
 * code: measured here, the resilient stack ran ~25 % slower that way and the baselines not at all.
 *
 * Benchmarks: `llm-overhead.ts` (resilient LLM stack vs raw fetch, undici and the AI SDK;
 * cache-hit latency), `stream-ttft.ts` (time to first token through the stack vs the bare provider
 * stream), `imports.ts` (what importing the library costs, in fresh processes),
 * `tui-render.tsx` (the dashboard's CPU), `memory.ts` (memory per in-flight run), `serve-load.ts`
 * (the API server under load, with SSE subscribers), `durable.ts` (durable runs: the engine's
 * cost per step, throughput of 1 and 3 workers on PostgreSQL) and `tool-loop.ts` (an agent's tool
 * loop against the same loop written by hand). Arguments pick
 * some by name (`npm run bench -- llm` runs those whose file name contains "llm"); none runs all.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "esbuild"

const here = dirname(fileURLToPath(import.meta.url))
const picked = process.argv.slice(2)
const benchmarks = ["llm-overhead.ts", "stream-ttft.ts", "imports.ts", "tui-render.tsx", "memory.ts", "serve-load.ts", "durable.ts", "tool-loop.ts"]
  .filter((file) => picked.length === 0 || picked.some((name) => file.includes(name)))
  .map((file) => join(here, file))
  .filter((file) => existsSync(file))

/**
 * Bundles a benchmark next to the sources (so its dependencies resolve from node_modules), with the
 * SQLite cache's worker module beside it, where the cache looks for it (as in the CLI bundle).
 */
const bundle = async (file: string): Promise<string> => {
  const name = basename(file).replace(/\.tsx?$/, "")
  await build({
    entryPoints: { [name]: file, sqliteCacheWorker: join(here, "..", "src", "internal", "sqliteCacheWorker.ts") },
    outdir: join(here, ".build"),
    outExtension: { ".js": ".mjs" },
    bundle: true,
    packages: "external",
    format: "esm",
    platform: "node",
    target: "node20",
    jsx: "automatic",
    logLevel: "warning"
  })
  return join(here, ".build", `${name}.mjs`)
}

const runOne = (file: string): Promise<number> =>
  new Promise((resolve, reject) => {
    // React (the dashboard benchmark) picks its build when imported, which in a bundle is before
    // any of the benchmark's own code runs: the production build is set here, as the CLI runs it.
    const env = { ...process.env, NODE_ENV: process.env["NODE_ENV"] ?? "production" }
    const child = spawn(process.execPath, [file], { stdio: "inherit", env })
    child.once("error", reject)
    child.once("exit", (code, signal) => resolve(code ?? (signal === null ? 1 : 128)))
  })

let failed = 0
for (const file of benchmarks) {
  process.stdout.write(`\n<!-- ${file.slice(here.length + 1)} -->\n`)
  const code = await runOne(await bundle(file))
  if (code !== 0) {
    failed += 1
    process.stderr.write(`benchmark ${file} exited with ${code}\n`)
  }
}
process.exitCode = failed === 0 ? 0 : 1
