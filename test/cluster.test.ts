/**
 * Three `serve` workers on one PostgreSQL database and one Redis form one cluster (the engine's
 * sharding, no coordinator of ours). A worker killed with SIGKILL in the middle of a batch of 300
 * runs loses nothing: every run reaches one final state, once; no completed agent call is made
 * again; the history holds every run. Runs started through any worker are visible and followable
 * from every worker, a cache entry written by one is a hit on another, and the provider never sees
 * more requests than the shared rate limit allows. Needs DATABASE_URL_PG and REDIS_URL (.ci/run).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import pg from "pg"
import * as DurableFake from "./support/durableFake.js"
import { freePort, readSse, type ServeProcess, startServe } from "./support/serveProcess.js"

const adminUrl = process.env["DATABASE_URL_PG"]
const redisUrl = process.env["REDIS_URL"]
const database = `ea_cluster_${process.pid}_${Date.now()}`
const RUNS = 300
const LIMIT_PER_SECOND = 150

const admin = async <A>(url: string, f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

const dbUrl = () => {
  const url = new URL(adminUrl!)
  url.pathname = `/${database}`
  return url.toString()
}

const query = <R extends object>(sql: string, params: ReadonlyArray<unknown> = []) =>
  admin(dbUrl(), (client) => client.query<R>(sql, [...params]).then((r) => r.rows))

const until = async (check: () => Promise<boolean>, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out")
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

describe.runIf(adminUrl !== undefined && redisUrl !== undefined)("a cluster of three serve workers", () => {
  let provider: Awaited<ReturnType<typeof DurableFake.start>>
  const workers: Array<ServeProcess> = []

  beforeAll(async () => {
    await admin(adminUrl!, (client) => client.query(`CREATE DATABASE ${database}`))
    provider = await DurableFake.start(() => 300)
    const env = {
      ...provider.env,
      // A model of its own: the shared limiter's Redis key is this test run's alone.
      LLM_MODEL: `cluster-model-${process.pid}`,
      DATABASE_URL: dbUrl(),
      CACHE_ENABLED: "true",
      CACHE_BACKEND: "redis",
      REDIS_URL: redisUrl!,
      RATE_LIMIT_ENABLED: "true",
      RATE_LIMIT_BACKEND: "redis",
      RATE_LIMIT_MAX_CALLS: String(LIMIT_PER_SECOND),
      RATE_LIMIT_PERIOD: "1",
      // As deployed: a call failing under this busy test machine is retried, not the run failed.
      // A retry is an attempt of the same call, never a repeat of a completed one.
      MAX_RETRIES: "3",
      SHUTDOWN_GRACE_SECONDS: "0",
      LOG_FORMAT: "json"
    }
    const ports = await Promise.all([0, 1, 2].map(() => freePort()))
    // Started together: they race to create the engine's tables, as a deployment's workers do.
    workers.push(...await Promise.all(ports.map((port) => startServe({ ...env, RUNNER_PORT: String(port) }, { timeoutMs: 30_000 }))))
  }, 60_000)

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()))
    await provider?.fake.close()
    await admin(adminUrl!, (client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
  }, 60_000)

  const post = (worker: ServeProcess, body: unknown) =>
    fetch(`${worker.url}/v1/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      .then(async (r) => {
        expect(r.status).toBe(202)
        return (await r.json() as { id: string }).id
      })

  it("a worker killed mid-batch loses nothing and repeats no completed call; runs are visible everywhere", async () => {
    const [killed, ...alive] = workers
    // Posted through the two workers that live, while the third — which executes its share of the
    // runs all the same (the engine places runs by shard) — is killed a third of the way through.
    const ids: Array<string> = []
    const posting = (async () => {
      for (let i = 0; i < RUNS; i += 30) {
        ids.push(...await Promise.all(Array.from({ length: 30 }, (_, j) =>
          post(alive[(i + j) % 2]!, { workflow: "research", input: `Cluster question ${i + j}?` }))))
      }
    })()
    await until(async () => provider.served.length >= 500, 120_000)
    killed!.child.kill("SIGKILL")
    await killed!.exited
    await posting

    await until(async () => {
      const [row] = await query<{ n: string }>("SELECT count(*) AS n FROM runs WHERE status = 'running'")
      return Number(row!.n) === 0
    }, 300_000).catch(async (error) => {
      // What the engine holds of the runs that did not end: the cause of a hang is in there.
      const stuck = await query<{ id: string }>("SELECT id FROM runs WHERE status = 'running' LIMIT 5")
      for (const { id } of stuck) {
        const messages = await query(
          `SELECT m.id, m.entity_type, m.entity_id, m.tag, m.kind, m.processed, m.last_read, now() AS now, m.shard_id, m.deliver_at,
             left(m.payload, 160) AS payload,
             (SELECT string_agg(r.kind || ':' || left(r.payload, 120), ' | ') FROM cluster_replies r WHERE r.request_id = m.request_id) AS replies
           FROM cluster_messages m WHERE m.entity_id IN (SELECT entity_id FROM cluster_messages WHERE payload LIKE $1) ORDER BY m.id`,
          [`%${id}%`]
        )
        console.error(`stuck run ${id}`, JSON.stringify(messages, null, 1))
      }
      console.error("runners", JSON.stringify(await query("SELECT * FROM cluster_runners")))
      throw error
    })
    const unsuccessful = await query<{ id: string; status: string; error_tag: string | null }>(
      "SELECT id, status, error_tag FROM runs WHERE status <> 'succeeded'"
    )
    expect(unsuccessful).toEqual([])

    const runs = await query<{ id: string; pid: number }>("SELECT id, pid FROM runs WHERE workflow = 'research'")
    expect(runs.map((r) => r.id).sort()).toEqual([...ids].sort())
    // One final state each, once: a resumed run is not finished twice.
    const finishes = await query<{ run_id: string; n: string }>(
      `SELECT run_id, count(*) AS n FROM events WHERE body LIKE '%"_tag":"WorkflowFinished"%' GROUP BY run_id`
    )
    expect(finishes).toHaveLength(RUNS)
    expect(finishes.every((f) => Number(f.n) === 1)).toBe(true)
    // ...although the killed worker's runs in flight were started again by the others.
    const [starts] = await query<{ n: string }>(`SELECT count(*) AS n FROM events WHERE body LIKE '%"_tag":"WorkflowStarted"%'`)
    expect(Number(starts!.n)).toBeGreaterThan(RUNS)
    // No call of a step that had completed was made again. A step completes once the engine has
    // stored its agent call's result (its successful StepFinished is published after that): a call
    // of a step after its first such StepFinished — in the history, or at the provider — is a call
    // the engine should have answered from storage. Calls in flight when their worker died are
    // made again, as they must be (the shared cache answers most of them).
    const done = new Map<string, number>()
    const stepFinished = await query<{ body: string }>(`SELECT body FROM events WHERE body LIKE '%"_tag":"StepFinished"%'`)
    for (const { body } of stepFinished) {
      const step = JSON.parse(body) as { runId: string; stepId: string; label: string; status: string; at: number }
      // A step interrupted with its worker's run (a shard handed over) ends too, without a result.
      if (step.status !== "succeeded") continue
      for (const key of [`${step.runId}/${step.stepId}`, `${step.runId}/${step.label}`]) {
        done.set(key, Math.min(step.at, done.get(key) ?? Infinity))
      }
    }
    const calls = await query<{ run_id: string; step_id: string; at: string }>("SELECT run_id, step_id, at FROM llm_calls")
    expect(new Set(calls.map((c) => `${c.run_id}/${c.step_id}`)).size).toBe(RUNS * 5)
    expect(calls.filter((c) => Number(c.at) > done.get(`${c.run_id}/${c.step_id}`)!)).toEqual([])
    const asked = provider.served.map((s) => ({ ...DurableFake.researchStepOf(s.user), arrivedAt: s.arrivedAt }))
    expect(asked.filter((a) => a.arrivedAt > done.get(`${ids[a.question]}/${a.label}`)!)).toEqual([])
    // The work was spread: the two that lived both finished runs. (A run keeps the pid of the
    // worker that finished it, so the killed worker's stays only on runs it finished before it
    // died, which on a loaded machine can be none; that it ran its share shows in the restarts.)
    expect(new Set(runs.map((r) => r.pid)).size).toBeGreaterThanOrEqual(2)
    // The shared limit held across the workers (a token bucket: one period's burst at most on top).
    const arrivals = provider.served.map((s) => s.arrivedAt)
    const seconds = (Math.max(...arrivals) - Math.min(...arrivals)) / 1000
    expect(arrivals.length).toBeLessThanOrEqual(LIMIT_PER_SECOND * (seconds + 1))

    // Any living worker shows any run and replays its events.
    const sample = ids[0]!
    for (const worker of alive) {
      const run = await (await fetch(`${worker.url}/v1/runs/${sample}`)).json() as { status: string }
      expect(run.status).toBe("succeeded")
    }
    const events = await readSse(`${alive[1]!.url}/v1/runs/${sample}/events`, {
      headers: { "last-event-id": "0" },
      until: (m) => m.some((e) => e.event === "WorkflowFinished")
    })
    expect(events.at(-1)).toMatchObject({ event: "WorkflowFinished", data: { status: "succeeded" } })
  }, 480_000)

  it("a cache entry written by one worker is a hit on another", async () => {
    const [a, b] = workers.slice(1)
    const input = "A text both workers summarize."
    const asked = () => provider.timesAsked((s) => s.user.includes(input))
    const first = await post(a!, { workflow: "summarize", input })
    await until(async () => (await (await fetch(`${a!.url}/v1/runs/${first}`)).json() as { status: string }).status === "succeeded", 30_000)
    const second = await post(b!, { workflow: "summarize", input })
    await until(async () => (await (await fetch(`${b!.url}/v1/runs/${second}`)).json() as { status: string }).status === "succeeded", 30_000)
    const run = await (await fetch(`${b!.url}/v1/runs/${second}`)).json() as { steps: ReadonlyArray<{ cached: boolean }> }
    expect(run.steps.map((s) => s.cached)).toEqual([true])
    expect(asked()).toBe(1)
  }, 60_000)
})
