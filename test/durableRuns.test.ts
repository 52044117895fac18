/**
 * Durable runs on one machine, with nothing to run but `serve` (the embedded SQLite engine): a
 * worker killed with SIGKILL in the middle of a run comes back and finishes the run from where it
 * was — the agent calls that had completed are not sent to the provider again — and the history
 * shows the run once, with every call counted once. A run cancelled through the API stays
 * cancelled when the worker restarts; a graceful stop leaves unfinished runs to the next start.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as DurableFake from "./support/durableFake.js"
import { readSse, startServe } from "./support/serveProcess.js"

const root = mkdtempSync(join(tmpdir(), "effect-agents-durable-"))
let provider: Awaited<ReturnType<typeof DurableFake.start>>

// The plan and the first sub-question are answered quickly; the others take long enough to be
// in flight when the worker is killed.
beforeAll(async () => {
  provider = await DurableFake.start((user) => (user.includes("(part 2)") || user.includes("(part 3)") ? 2_500 : 150))
})
afterAll(async () => {
  await provider.fake.close()
  rmSync(root, { recursive: true, force: true })
})

const envOf = (name: string) => ({
  ...provider.env,
  DATA_DIR: join(root, name, "data"),
  LOG_DIR: join(root, name, "logs"),
  LOG_FORMAT: "json"
})

const post = (url: string, body: unknown) =>
  fetch(`${url}/v1/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
    .then((r) => r.json() as Promise<{ id: string }>)

interface RunJson {
  readonly status: string
  readonly inputTokens: number
  readonly steps: ReadonlyArray<{ readonly agent: string; readonly status: string; readonly calls: number; readonly inputTokens: number }>
  readonly llmCalls: ReadonlyArray<{ readonly inputTokens: number }>
}

const sum = (items: ReadonlyArray<{ readonly inputTokens: number }>) => items.reduce((n, i) => n + i.inputTokens, 0)

const until = async (check: () => boolean | Promise<boolean>, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out")
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

describe("durable runs (embedded SQLite engine)", () => {
  it("a worker killed mid-run resumes it on restart, without asking the provider again for completed calls", async () => {
    const env = envOf("resume")
    const question = "Why do durable runs matter?"
    const first = await startServe(env)
    const { id } = await post(first.url, { workflow: "research", input: question })
    const mine = (s: DurableFake.Served) => s.user.includes(question)
    const part = (n: number) => (s: DurableFake.Served) => mine(s) && s.system.includes("sub-question") && s.user.includes(`(part ${n})`)
    // Killed once the plan and part 1 are answered, while parts 2 and 3 are in flight.
    await until(() => provider.served.some((s) => part(1)(s) && s.answeredAt + 300 < Date.now()), 15_000)
    const killedAt = Date.now()
    first.child.kill("SIGKILL")
    await first.exited
    expect(provider.timesAsked(part(2))).toBe(1)

    const second = await startServe(env)
    try {
      await until(async () => (await (await fetch(`${second.url}/v1/runs/${id}`)).json() as RunJson).status !== "running", 30_000)
      const run = await (await fetch(`${second.url}/v1/runs/${id}`)).json() as RunJson
      expect(run.status).toBe("succeeded")
      expect(run.steps.map((s) => [s.agent, s.status])).toEqual([
        ["decomposer", "succeeded"],
        ["researcher", "succeeded"],
        ["researcher", "succeeded"],
        ["researcher", "succeeded"],
        ["synthesizer", "succeeded"]
      ])
      // Asked once: the plan and part 1 (answered before the kill), and the synthesis (after it).
      expect(provider.repeatedAfterAnswer(killedAt)).toEqual([])
      expect(provider.timesAsked((s) => mine(s) && s.system.includes("You plan research"))).toBe(1)
      expect(provider.timesAsked(part(1))).toBe(1)
      // In flight when the worker died: asked again by the next one.
      expect(provider.timesAsked(part(2))).toBe(2)
      expect(provider.timesAsked((s) => mine(s) && s.system.includes("final answer"))).toBe(1)

      // Each completed call is in the run once, whichever worker made it: in its calls, its steps and its totals.
      expect(run.llmCalls).toHaveLength(5)
      expect(run.steps.map((s) => s.calls)).toEqual([1, 1, 1, 1, 1])
      expect(sum(run.steps)).toBe(run.inputTokens)
      expect(sum(run.llmCalls)).toBe(run.inputTokens)

      // The event log tells the story once: one finish, after the resumed start.
      const events = await readSse(`${second.url}/v1/runs/${id}/events?from=0`, {
        headers: { "last-event-id": "0" },
        until: (m) => m.some((e) => e.event === "WorkflowFinished")
      })
      const finishes = events.filter((e) => e.event === "WorkflowFinished")
      expect(finishes).toHaveLength(1)
      expect(finishes[0]!.data).toMatchObject({ status: "succeeded" })
    } finally {
      await second.stop()
    }
  }, 90_000)
})

describe("durable runs: cancel and stop", () => {
  it("a cancelled run stays cancelled; a run left by a graceful stop finishes on the next start", async () => {
    const env = { ...envOf("stop"), SHUTDOWN_GRACE_SECONDS: "0" }
    const first = await startServe(env)
    const [cancelled, left] = await Promise.all([
      post(first.url, { workflow: "research", input: "What is cancelled stays cancelled?" }),
      post(first.url, { workflow: "research", input: "What survives a graceful stop?" })
    ])
    await until(() => provider.served.some((s) => s.user.includes("What is cancelled") && s.user.includes("(part 2)")), 15_000)
    const cancel = await fetch(`${first.url}/v1/runs/${cancelled.id}`, { method: "DELETE" })
    expect(cancel.status).toBe(200)
    expect((await (await fetch(`${first.url}/v1/runs/${cancelled.id}`)).json() as RunJson).status).toBe("cancelled")
    await until(() => provider.served.some((s) => s.user.includes("What survives") && s.user.includes("(part 2)")), 15_000)
    expect(await first.stop("SIGTERM")).toBe(0)
    expect(first.stderr()).toMatch(/1 left to resume on the next worker/)
    // Between the two processes the run is neither lost nor interrupted: it waits for a worker.
    const between = await startServe({ ...env, DURABLE_RUNS: "false" })
    expect((await (await fetch(`${between.url}/v1/runs/${left.id}`)).json() as RunJson).status).toBe("running")
    await between.stop()

    const second = await startServe(env)
    try {
      await until(async () => (await (await fetch(`${second.url}/v1/runs/${left.id}`)).json() as RunJson).status === "succeeded", 30_000)
      expect((await (await fetch(`${second.url}/v1/runs/${cancelled.id}`)).json() as RunJson).status).toBe("cancelled")
      expect(provider.timesAsked((s) => s.user.includes("What is cancelled") && s.system.includes("final answer"))).toBe(0)
    } finally {
      await second.stop()
    }
  }, 90_000)
})
