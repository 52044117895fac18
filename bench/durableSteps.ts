/**
 * durableSteps — what durability costs one step of a run, as the engine sees it: a workflow whose
 * body runs `steps` activities that return a small value at once, each activity call timed from
 * inside the body. On the durable engine (`ClusterWorkflowEngine` over the very layers `serve`
 * builds, `RunCluster.embedded` / `RunCluster.clustered`) a call is the round trip the engine makes
 * for every agent call of a run: the request stored, delivered and executed, the reply stored and
 * read back. On `WorkflowEngine.layerMemory` (the baseline) the same call runs in memory.
 *
 * Each engine lives in its own runtime in this process; rounds interleave the engines so that the
 * machine's load colours all alike.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import * as Activity from "@effect/workflow/Activity"
import * as Workflow from "@effect/workflow/Workflow"
import * as WorkflowEngine from "@effect/workflow/WorkflowEngine"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime, Redacted, Schema } from "effect"
import * as RunCluster from "../src/layers/RunCluster.js"
import { freePort } from "../test/support/serveProcess.js"
import { percentile, pool } from "./measure.js"

const Steps = Workflow.make({
  name: "bench/steps",
  payload: { id: Schema.String, steps: Schema.Number },
  success: Schema.Array(Schema.Number),
  idempotencyKey: ({ id }) => id
})

/** The body: `steps` activities in a row, each timed (ms); the times are the workflow's result. */
const handler = Steps.toLayer(({ steps }) =>
  Effect.gen(function*() {
    const times: Array<number> = []
    for (let i = 0; i < steps; i++) {
      const started = performance.now()
      yield* Activity.make({ name: `step-${i}`, success: Schema.Number, execute: Effect.succeed(i) })
      times.push(performance.now() - started)
    }
    return times
  })
)

/** One engine under test, with the workflow registered. */
export interface Engine {
  readonly name: string
  readonly runtime: ManagedRuntime.ManagedRuntime<WorkflowEngine.WorkflowEngine, unknown>
  readonly cleanUp: () => Promise<void>
}

const engineOf = (name: string, engine: Layer.Layer<WorkflowEngine.WorkflowEngine, unknown>, cleanUp = async () => {}): Engine => ({
  name,
  // The cluster's own info lines (its runner listening) would land in the report.
  runtime: ManagedRuntime.make(handler.pipe(Layer.provideMerge(engine), Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)))),
  cleanUp
})

export const memoryEngine = (): Engine => engineOf("memory (`WorkflowEngine.layerMemory`)", WorkflowEngine.layerMemory)

/** The single runner of a SQLite file, as `serve` runs by default (`<DATA_DIR>/engine.sqlite`). */
export const sqliteEngine = (): Engine => {
  const dir = mkdtempSync(join(tmpdir(), "ea-durable-steps-"))
  const cluster = RunCluster.embedded(join(dir, "engine.sqlite"), { durable: { enabled: true, runnerHost: "127.0.0.1", runnerPort: 34431 } })
  return engineOf("SQLite (file, single runner)", ClusterWorkflowEngine.layer.pipe(Layer.provideMerge(cluster)), async () =>
    rmSync(dir, { recursive: true, force: true }))
}

/** A runner of a cluster on PostgreSQL database `url` (alone in it), as `serve` with `DATABASE_URL`. */
export const postgresEngine = async (url: string): Promise<Engine> => {
  const runnerPort = await freePort()
  const cluster = RunCluster.clustered(Redacted.make(url), { durable: { enabled: true, runnerHost: "127.0.0.1", runnerPort } })
  return engineOf("PostgreSQL (runner of a cluster)", ClusterWorkflowEngine.layer.pipe(Layer.provideMerge(cluster)))
}

/** What one engine measured over every round. */
export interface StepCost {
  readonly name: string
  /** Each activity call, ms, sorted. */
  readonly steps: Float64Array
  /** Each workflow, from `execute` to its result (start, `steps` calls, finish), ms, sorted. */
  readonly workflows: Float64Array
  readonly failures: number
  /** This process's CPU (ms) per activity call, the workflows' start and finish included. */
  readonly cpuMsPerStep: number
}

let executions = 0

/** Runs `workflows` workflows of `steps` activities on `engine`, `parallel` at a time. */
const round = async (engine: Engine, workflows: number, steps: number, parallel: number) => {
  const tag = `${process.pid}-${Date.now()}-${executions++}`
  const times: Array<number> = []
  const cpu = process.cpuUsage()
  const run = await pool(workflows, parallel, async (i) =>
    times.push(...await engine.runtime.runPromise(Steps.execute({ id: `${tag}-${i}`, steps }))))
  const used = process.cpuUsage(cpu)
  return { times, workflows: Array.from(run.latencies), failures: run.failures, cpuMs: (used.user + used.system) / 1000 }
}

/**
 * Warms each engine up, then `rounds` rounds of `workflows` workflows each, the engines taking
 * turns within a round.
 */
export const measureSteps = async (
  engines: ReadonlyArray<Engine>,
  options: { readonly rounds: number; readonly workflows: number; readonly steps: number; readonly parallel: number }
): Promise<Array<StepCost>> => {
  const acc = engines.map(() => ({ steps: [] as Array<number>, workflows: [] as Array<number>, failures: 0, cpuMs: 0 }))
  for (const engine of engines) await round(engine, 5, options.steps, options.parallel)
  for (let r = 0; r < options.rounds; r++) {
    for (const [i, engine] of engines.entries()) {
      const measured = await round(engine, options.workflows, options.steps, options.parallel)
      acc[i]!.steps.push(...measured.times)
      acc[i]!.workflows.push(...measured.workflows)
      acc[i]!.failures += measured.failures
      acc[i]!.cpuMs += measured.cpuMs
    }
  }
  return engines.map((engine, i) => ({
    name: engine.name,
    steps: Float64Array.from(acc[i]!.steps).sort(),
    workflows: Float64Array.from(acc[i]!.workflows).sort(),
    failures: acc[i]!.failures,
    cpuMsPerStep: acc[i]!.cpuMs / acc[i]!.steps.length
  }))
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "–")

/** The report's table: p50/p99 per step and per workflow, and the ratio to the first engine (the baseline). */
export const printStepCosts = (costs: ReadonlyArray<StepCost>, steps: number): void => {
  const base = costs[0]!
  const p = (xs: Float64Array, q: number) => percentile(xs, q)
  console.log(`| engine | activity call p50 / p99 ms (samples) | × memory p50 / p99 | workflow of ${steps} calls p50 / p99 ms | CPU ms per call (this process) | failures |`)
  console.log("|---|---:|---:|---:|---:|---:|")
  for (const c of costs) {
    const ratio = `${fmt(p(c.steps, 0.5) / p(base.steps, 0.5), 0)} / ${fmt(p(c.steps, 0.99) / p(base.steps, 0.99), 0)}`
    console.log(
      `| ${c.name} | ${fmt(p(c.steps, 0.5), 3)} / ${fmt(p(c.steps, 0.99), 3)} (${c.steps.length}) | ${c === base ? "1" : ratio} | ` +
        `${fmt(p(c.workflows, 0.5))} / ${fmt(p(c.workflows, 0.99))} | ${fmt(c.cpuMsPerStep, 3)} | ${c.failures} |`
    )
  }
}
