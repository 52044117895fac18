/**
 * tui-render — what the dashboard costs with 1,000 running workflows compared with 10.
 *
 * Run: `node --import tsx bench/tui-render.tsx [--seconds 4] [--warmup 3] [--events-per-second 2000] [--check]`
 * (or `npm run bench -- tui`, which runs the esbuild bundle with NODE_ENV=production).
 *
 * For each size the state is built with the real reducer, then events stream in at a
 * fixed rate for a few seconds (LLM calls, steps, runs finishing and new ones starting so the
 * number running stays constant; each built as the product builds it) while the real `App` renders into a fake 160×50 terminal with its
 * production frame interval (`DEFAULT_FRAME_MS`). As in the CLI (`src/cli/dashboard.ts`), the events
 * that arrived together (here: each 10 ms tick's) are folded by one `reduceAll` and the dashboard is
 * told once. Each size runs twice: once with the events only
 * (the reducer's cost and the stream's own, the baseline) and once with the dashboard mounted.
 * Reported per size:
 * - CPU ms per second of wall time (`process.cpuUsage`, user + system) with and without the UI,
 *   and their difference (what rendering adds);
 * - frames per second and mean / p95 frame time (snapshot taken → frame laid out and written).
 * A last scenario mounts the dashboard on 100 finished runs and sends nothing: a screen that does
 * not change should cost nothing (no frame, no timer).
 * Targets: with 1,000 running, the dashboard row ≤ 150 ms/s (15 % of a core), and 1,000 running
 * costs ≤ 3× what 10 do. `--check` exits 1 when a target is missed.
 *
 * `--frame-ms N` renders at another frame interval than the dashboard's `DEFAULT_FRAME_MS`.
 * `--only-large [--no-ui]` runs the 1,000-running scenario alone (with `node --cpu-prof`, a profile
 * of the dashboard under load).
 * `node --expose-gc --import tsx bench/tui-render.tsx --heap [--seconds 20]` instead reports the
 * heap retained per second while rendering 1,000 runs (Ink caches the measurement of every
 * distinct string a text node holds, forever; the dashboard's nodes hold only blank lines, see
 * `src/tui/Block.tsx`).
 */
import { EventEmitter } from "node:events"
import { performance } from "node:perf_hooks"
import {
  LlmCallFinished,
  StepFinished,
  StepStarted,
  unsafeMakeEvent,
  type WorkflowEvent,
  WorkflowFinished,
  WorkflowStarted
} from "../src/services/WorkflowEvents.js"
import { type DashboardState, initialState, reduceAll } from "../src/state/WorkflowState.js"
import type { DashboardActions, DashboardInfo, DashboardSource } from "../src/tui/types.js"

// React picks its development or production build from NODE_ENV when first imported; the CLI
// should run the production build, so that is what is measured unless NODE_ENV says otherwise.
process.env["NODE_ENV"] ??= "production"
// (No JSX in this file: the JSX runtime would be imported, with React, before NODE_ENV is set.)
const { createElement } = await import("react")
const { render } = await import("ink")
const { App, DEFAULT_FRAME_MS } = await import("../src/tui/App.js")

const argValue = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name)
  const value = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN
  return Number.isFinite(value) && value > 0 ? value : fallback
}

const SECONDS = argValue("--seconds", 4)
const EVENTS_PER_SECOND = argValue("--events-per-second", 2_000)
/** `--frame-ms N`: another frame interval than the dashboard's own, to see what the rate costs. */
const FRAME_MS = argValue("--frame-ms", DEFAULT_FRAME_MS)
/**
 * Each scenario runs this long before it is measured. A cold process spends its first seconds
 * compiling (V8's optimising compiler runs on other threads, which `process.cpuUsage` counts):
 * measured per second, the dashboard with 1,000 running went from ~400 ms to a steady ~150 ms
 * over 5–8 s. A dashboard stays up for minutes, so the steady state is what is measured.
 */
const WARMUP_MS = argValue("--warmup", 3) * 1_000
const BATCH_MS = 10
const TARGET_RATIO = 3
const TARGET_CPU_MS = 150

/** Deterministic PRNG (mulberry32) so both sizes see the same kind of stream. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
}

const workflows = ["code", "research", "summarize"] as const

/** A mutable store with the `DashboardSource` interface, fed by a synthetic event stream. */
const makeWorkload = (running: number) => {
  const rand = random(42)
  let state: DashboardState = initialState
  const listeners = new Set<() => void>()
  const steps = new Map<string, number>()
  const ids: Array<string> = []
  let serial = 0
  const now = () => Date.now()

  let pending: Array<WorkflowEvent> = []
  const apply = (event: WorkflowEvent) => {
    pending.push(event)
  }
  /** Folds the events since the last flush, then tells the listeners, as the CLI's source does. */
  const flush = () => {
    const next = reduceAll(state, pending)
    pending = []
    if (next === state) return
    state = next
    for (const listener of listeners) listener()
  }
  const startRun = () => {
    const runId = `run-${String(serial++).padStart(6, "0")}-${Math.floor(rand() * 1e9).toString(36)}`
    const workflow = workflows[serial % workflows.length]!
    apply(new WorkflowStarted({ runId, workflow, input: "bench", at: now() }))
    apply(new StepStarted({ runId, stepId: "s0", label: "step 0", agent: "agent", at: now() }))
    steps.set(runId, 0)
    ids.push(runId)
  }
  for (let i = 0; i < running; i++) startRun()
  flush()

  const step = () => {
    const index = Math.floor(rand() * ids.length)
    const runId = ids[index]!
    const current = steps.get(runId)!
    const stepId = `s${current}`
    const roll = rand()
    const usage = { inputTokens: 200 + Math.floor(rand() * 800), outputTokens: 50 + Math.floor(rand() * 300) }
    if (roll < 0.6) {
      // Built as the LLM layer builds it (`CallTelemetry`): no validation on the hot path.
      apply(
        unsafeMakeEvent(LlmCallFinished, {
          runId,
          stepId,
          agent: "agent",
          model: "sim-1",
          provider: "simulated",
          cached: rand() < 0.2,
          attempt: 1,
          usage,
          costUsd: 0.0004,
          durationMs: 120,
          status: "success",
          at: now()
        })
      )
    } else if (roll < 0.85) {
      apply(
        new StepFinished({
          runId,
          stepId,
          label: `step ${current}`,
          agent: "agent",
          status: "succeeded",
          durationMs: 300,
          cached: false,
          attempts: 1,
          calls: 1,
          usage,
          costUsd: 0.0004,
          output: "some output of the step",
          at: now()
        })
      )
      steps.set(runId, current + 1)
      apply(new StepStarted({ runId, stepId: `s${current + 1}`, label: `step ${current + 1}`, agent: "agent", at: now() }))
    } else {
      const failed = rand() < 0.1
      apply(
        new WorkflowFinished({
          runId,
          workflow: "code",
          status: failed ? "failed" : "succeeded",
          ...(failed ? { error: { tag: "ProviderUnavailable", message: "503" } } : { output: "result" }),
          usage,
          costUsd: 0.002,
          durationMs: 2_000,
          at: now()
        })
      )
      ids.splice(index, 1)
      steps.delete(runId)
      startRun()
    }
  }

  const source: DashboardSource = {
    getState: () => state,
    subscribe: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    getLogs: () => [],
    subscribeLogs: () => () => {}
  }
  /** Every running run ends, so the list holds finished runs only. */
  const finishAll = () => {
    for (const runId of ids.splice(0)) {
      apply(
        new WorkflowFinished({
          runId,
          workflow: "code",
          status: "succeeded",
          output: "result",
          usage: { inputTokens: 0, outputTokens: 0 },
          costUsd: 0,
          durationMs: 2_000,
          at: now()
        })
      )
    }
    flush()
  }
  return { source, step, flush, finishAll, running: () => state.totals.running }
}

/** A terminal that discards output. */
class NullTerminal extends EventEmitter {
  readonly isTTY = true
  readonly columns = 160
  readonly rows = 50
  bytes = 0
  write = (data: string) => {
    this.bytes += data.length
    return true
  }
}

/** Keyboard input that never types. */
class IdleKeyboard extends EventEmitter {
  readonly isTTY = true
  read = () => null
  setEncoding() {}
  setRawMode() {}
  resume() {}
  pause() {}
  ref() {}
  unref() {}
}

/** A run of the benchmark: how many runs, the dashboard mounted or not, events flowing or none. */
interface Scenario {
  readonly runs: number
  readonly ui: boolean
  /** No events at all, and every run finished: nothing on screen changes. */
  readonly idle?: boolean
}

interface Measurement extends Scenario {
  readonly running: number
  readonly cpuMsPerSecond: number
  readonly frames: number
  readonly fps: number
  readonly frameMean: number
  readonly frameP95: number
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const measure = async ({ idle = false, runs, ui }: Scenario): Promise<Measurement> => {
  const workload = makeWorkload(runs)
  if (idle) workload.finishAll()
  const frameTimes: Array<number> = []
  let recording = false
  const actions: DashboardActions = { startRun: () => {}, cancelRun: () => {}, clearFinished: () => {}, quit: () => {}, interrupt: () => {} }
  const info: DashboardInfo = { provider: "simulated", model: "sim-1", simulated: true, workflows: [], color: true }
  const instance = ui
    ? render(
      createElement(App, {
        frameMs: FRAME_MS,
        source: workload.source,
        actions,
        info,
        onFrame: (ms) => {
          if (recording) frameTimes.push(ms)
        }
      }),
      {
        stdout: new NullTerminal() as unknown as NodeJS.WriteStream,
        stdin: new IdleKeyboard() as unknown as NodeJS.ReadStream,
        stderr: new NullTerminal() as unknown as NodeJS.WriteStream,
        exitOnCtrlC: false,
        patchConsole: false,
        maxFps: 15
      }
    )
    : undefined

  const perBatch = Math.max(1, Math.round((EVENTS_PER_SECOND * BATCH_MS) / 1_000))
  const timer = idle ? undefined : setInterval(() => {
    for (let i = 0; i < perBatch; i++) workload.step()
    workload.flush()
  }, BATCH_MS)

  await sleep(WARMUP_MS)
  recording = true
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await sleep(SECONDS * 1_000)
  const cpu = process.cpuUsage(cpu0)
  const wall = (performance.now() - t0) / 1_000
  recording = false
  clearInterval(timer)
  instance?.unmount()
  instance?.cleanup()

  const sorted = [...frameTimes].sort((a, b) => a - b)
  const mean = sorted.length === 0 ? 0 : sorted.reduce((a, b) => a + b, 0) / sorted.length
  const p95 = sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]!
  return {
    runs,
    ui,
    idle,
    running: workload.running(),
    cpuMsPerSecond: (cpu.user + cpu.system) / 1_000 / wall,
    frames: sorted.length,
    fps: sorted.length / wall,
    frameMean: mean,
    frameP95: p95
  }
}

const fixed = (n: number, digits = 1) => n.toFixed(digits)

/** `--heap`: heap retained by rendering 1,000 runs for `--seconds` (needs `node --expose-gc`). */
const heapProbe = async () => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error("run with node --expose-gc")
  const workload = makeWorkload(1_000)
  const actions: DashboardActions = { startRun: () => {}, cancelRun: () => {}, clearFinished: () => {}, quit: () => {}, interrupt: () => {} }
  const info: DashboardInfo = { provider: "simulated", model: "sim-1", simulated: true, workflows: [], color: true }
  const instance = render(createElement(App, { source: workload.source, actions, info }), {
    stdout: new NullTerminal() as unknown as NodeJS.WriteStream,
    stdin: new IdleKeyboard() as unknown as NodeJS.ReadStream,
    stderr: new NullTerminal() as unknown as NodeJS.WriteStream,
    exitOnCtrlC: false,
    patchConsole: false
  })
  const perBatch = Math.max(1, Math.round((EVENTS_PER_SECOND * BATCH_MS) / 1_000))
  const timer = setInterval(() => {
    for (let i = 0; i < perBatch; i++) workload.step()
    workload.flush()
  }, BATCH_MS)
  await sleep(2_000)
  gc()
  const before = process.memoryUsage().heapUsed
  await sleep(SECONDS * 1_000)
  gc()
  const after = process.memoryUsage().heapUsed
  clearInterval(timer)
  instance.unmount()
  console.log(`heap retained while rendering: ${fixed((after - before) / 1024 / SECONDS)} KiB/s (${fixed((after - before) / 1024 / 1024)} MiB over ${SECONDS}s)`)
}

const describe = (result: Measurement): string =>
  [
    result.idle ? `${String(result.runs).padStart(5)} finished` : `${String(result.runs).padStart(5)} running `,
    result.idle ? "no events  " : result.ui ? "dashboard  " : "events only",
    `CPU ${fixed(result.cpuMsPerSecond).padStart(6)} ms/s`,
    result.ui
      ? `${fixed(result.fps).padStart(5)} fps  frame mean ${fixed(result.frameMean, 2)} ms  p95 ${fixed(result.frameP95, 2)} ms`
      : ""
  ].join("  ")

const main = async () => {
  if (process.argv.includes("--heap")) return heapProbe()
  if (process.argv.includes("--only-large")) {
    // One scenario, for a profile (`node --cpu-prof`): 1,000 running with the dashboard.
    return console.log(describe(await measure({ runs: 1_000, ui: !process.argv.includes("--no-ui") })))
  }
  console.log(
    `tui-render: ${SECONDS}s per scenario after ${WARMUP_MS / 1_000}s of warm-up, ${EVENTS_PER_SECOND} events/s, 160×50 terminal, ` +
      `frame interval ${FRAME_MS} ms, NODE_ENV=${process.env["NODE_ENV"]}\n`
  )
  const results: Array<Measurement> = []
  for (const runs of [10, 1_000]) {
    for (const ui of [false, true]) {
      const result = await measure({ runs, ui })
      results.push(result)
      console.log(describe(result))
    }
  }
  const idle = await measure({ runs: 100, ui: true, idle: true })
  console.log(describe(idle))
  const find = (runs: number, ui: boolean) => results.find((r) => r.runs === runs && r.ui === ui)!
  const small = find(10, true)
  const large = find(1_000, true)
  const renderSmall = small.cpuMsPerSecond - find(10, false).cpuMsPerSecond
  const renderLarge = large.cpuMsPerSecond - find(1_000, false).cpuMsPerSecond
  const cpuRatio = large.cpuMsPerSecond / small.cpuMsPerSecond
  const frameRatio = large.frameMean / small.frameMean
  console.log("")
  console.log(`CPU per second with 1,000 running: ${fixed(large.cpuMsPerSecond)} ms/s (target ≤ ${TARGET_CPU_MS})`)
  console.log(`CPU per second, 1,000 vs 10 running: ${fixed(cpuRatio, 2)}× (target ≤ ${TARGET_RATIO}×)`)
  console.log(
    `  of which rendering: ${fixed(renderLarge)} vs ${fixed(renderSmall)} ms/s (${fixed(renderLarge / Math.max(0.1, renderSmall), 2)}×)`
  )
  console.log(
    `  rendering CPU per frame: ${fixed(renderLarge / Math.max(0.1, large.fps), 2)} vs ${fixed(renderSmall / Math.max(0.1, small.fps), 2)} ms`
  )
  console.log(
    `Frame time, 1,000 vs 10 running: mean ${fixed(frameRatio, 2)}×, p95 ${fixed(large.frameP95 / small.frameP95, 2)}×`
  )
  console.log(`Nothing changing: ${idle.frames} frames, ${fixed(idle.cpuMsPerSecond)} ms/s`)
  const ok = large.cpuMsPerSecond <= TARGET_CPU_MS && cpuRatio <= TARGET_RATIO && frameRatio <= TARGET_RATIO
  console.log(ok ? "within target" : "ABOVE TARGET")
  if (process.argv.includes("--check") && !ok) process.exitCode = 1
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
