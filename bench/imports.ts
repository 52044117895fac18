/**
 * imports — what importing the library costs a program that only defines agents and workflows:
 * fresh Node processes importing
 *   (a) `effect` + `@effect/ai` alone (the floor: any Effect AI program loads them),
 *   (b) `effect-agents/Agent` + `effect-agents/Workflow` (target: ≤ 1.3 × a),
 * and, for information, the root `effect-agents` and `effect-agents/MainLayer` (every backend).
 * The library is imported from the built dist/ through the package's own `exports` (the process
 * runs in the repository, so `effect-agents/...` resolves to the package itself, as in a user's
 * install); `npm run bench` builds first. Each round starts one process per variant, in rotating
 * order; a process reports the time of its imports alone (from before the first `import()` to
 * after the last), so Node's own start-up, equal for all, does not dilute the ratio; the process's
 * wall time is shown beside it. Runs: `BENCH_IMPORT_RUNS` (default 21).
 */
import { spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { loadavg } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { median } from "./measure.js"

/** The repository: the nearest directory above this file (bundled or not) holding our package.json. */
const findRepo = (dir: string): string => {
  const manifest = join(dir, "package.json")
  if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "effect-agents") return dir
  const parent = dirname(dir)
  if (parent === dir) throw new Error("imports benchmark: not inside the effect-agents repository")
  return findRepo(parent)
}
const repo = findRepo(dirname(fileURLToPath(import.meta.url)))
const runs = Number(process.env["BENCH_IMPORT_RUNS"] ?? 21)

interface Variant {
  readonly name: string
  readonly label: string
  readonly specifiers: ReadonlyArray<string>
}

const variants: ReadonlyArray<Variant> = [
  { name: "effect", label: "`effect` + `@effect/ai`", specifiers: ["effect", "@effect/ai"] },
  { name: "agent", label: "`effect-agents/Agent` + `effect-agents/Workflow`", specifiers: ["effect-agents/Agent", "effect-agents/Workflow"] },
  { name: "root", label: "`effect-agents` (root)", specifiers: ["effect-agents"] },
  { name: "main", label: "`effect-agents/MainLayer` (every backend)", specifiers: ["effect-agents/MainLayer"] }
]

interface Sample {
  readonly importMs: number
  readonly wallMs: number
}

/** One fresh process importing the variant's modules: its import time and its wall time. */
const sample = (variant: Variant): Promise<Sample> =>
  new Promise((resolve, reject) => {
    const code = [
      "const t0 = performance.now()",
      ...variant.specifiers.map((s) => `await import(${JSON.stringify(s)})`),
      "process.stdout.write(String(performance.now() - t0))"
    ].join("; ")
    const started = performance.now()
    const child = spawn(process.execPath, ["--input-type=module", "-e", code], { cwd: repo, stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
    child.once("error", reject)
    child.once("exit", (exitCode) => {
      const wallMs = performance.now() - started
      const importMs = Number(out)
      if (exitCode !== 0 || !Number.isFinite(importMs)) reject(new Error(`${variant.name}: exit ${exitCode}, output ${JSON.stringify(out)}`))
      else resolve({ importMs, wallMs })
    })
  })

const samples = new Map<string, Array<Sample>>(variants.map((v) => [v.name, []]))
const ratios: Array<number> = []
const loadAtStart = loadavg().map((l) => l.toFixed(2)).join(" ")

for (let round = 0; round < runs; round++) {
  const byName = new Map<string, Sample>()
  for (let i = 0; i < variants.length; i++) {
    const variant = variants[(round + i) % variants.length]!
    const s = await sample(variant)
    byName.set(variant.name, s)
    samples.get(variant.name)!.push(s)
  }
  ratios.push(byName.get("agent")!.importMs / byName.get("effect")!.importMs)
}

const med = (name: string, pick: (s: Sample) => number) => median(samples.get(name)!.map(pick))
const floor = med("effect", (s) => s.importMs)
const ratio = median(ratios)
const lines = [
  `### Import cost (${runs} fresh processes per variant, interleaved)`,
  "",
  `Node ${process.version}; load average at start ${loadAtStart}; the library from dist/ (built by \`npm run bench\`).`,
  "",
  "| import | import ms (median) | × (a) | process wall ms (median) |",
  "|---|---:|---:|---:|",
  ...variants.map((v, i) =>
    `| ${i < 2 ? `(${"ab"[i]}) ` : ""}${v.label} | ${med(v.name, (s) => s.importMs).toFixed(0)} | ${
      (med(v.name, (s) => s.importMs) / floor).toFixed(2)
    } | ${med(v.name, (s) => s.wallMs).toFixed(0)} |`
  ),
  "",
  `- (b) / (a) = **${ratio.toFixed(2)}** (median of per-round ratios; target ≤ 1.30): ${ratio <= 1.3 ? "met" : "NOT met"}`
]
process.stdout.write(lines.join("\n") + "\n")
