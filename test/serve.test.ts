/**
 * `effect-agents serve` end to end: a real server process on a loopback port, driven over HTTP
 * and read through Server-Sent Events, as a client program would.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runCli } from "./support/cli.js"
import { readSse, type ServeProcess, startServe } from "./support/serveProcess.js"

const token = "test-token-0123456789abcdef"
const root = mkdtempSync(join(tmpdir(), "effect-agents-serve-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const baseEnv = (name: string, extra: Record<string, string> = {}) => ({
  DATA_DIR: join(root, name, "data"),
  LOG_DIR: join(root, name, "logs"),
  SIM_LATENCY_MS: "20",
  SIM_ERROR_RATE: "0",
  SIM_RATE_LIMIT_RATE: "0",
  RATE_LIMIT_ENABLED: "false",
  ...extra
})

const auth = { authorization: `Bearer ${token}` }

describe("serve: the API", () => {
  let server: ServeProcess
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, { ...init, headers: { ...auth, "content-type": "application/json", ...init.headers } })
  const start = async (body: unknown, headers: Record<string, string> = {}) => {
    const response = await api("/v1/runs", { method: "POST", body: JSON.stringify(body), headers })
    return { status: response.status, body: await response.json() as Record<string, unknown> }
  }
  const finished = (id: string) =>
    readSse(`${server.url}/v1/runs/${id}/events`, { headers: auth })

  beforeAll(async () => {
    server = await startServe(baseEnv("api", { API_TOKEN: token, LOG_FORMAT: "json" }))
  })
  afterAll(() => {
    server.child.kill("SIGKILL")
  })

  it("asks for the bearer token on everything but the health checks, and never logs it", async () => {
    expect((await fetch(`${server.url}/v1/runs`)).status).toBe(401)
    expect((await fetch(`${server.url}/v1/runs`, { headers: { authorization: "Bearer wrong-token-0123456789" } })).status).toBe(401)
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401)
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: "ok" })
    expect(await (await fetch(`${server.url}/readyz`)).json()).toEqual({ status: "ready", checks: { history: "ok", cache: "ok" } })
    expect((await api("/v1/runs")).status).toBe(200)
    const logs = readdirSync(join(root, "api", "logs")).map((f) => readFileSync(join(root, "api", "logs", f), "utf8")).join("")
    expect(logs + server.stderr()).not.toContain(token)
  })

  it("starts a run (202), streams its events until it ends, and shows it like the CLI's --json", async () => {
    const started = await start({ workflow: "summarize", input: "The sky is blue because of Rayleigh scattering." })
    expect(started.status).toBe(202)
    const id = started.body["id"] as string
    const events = await finished(id)
    expect(events.map((e) => e.event)).toContain("StepFinished")
    expect(events[0]!.event).toBe("WorkflowStarted")
    expect(events.at(-1)).toMatchObject({ event: "WorkflowFinished", data: { runId: id, status: "succeeded" } })
    // The summary streams: its AnswerDeltas, joined, are the run's output.
    const deltas = events.filter((e) => e.event === "AnswerDelta").map((e) => (e.data as { text: string }).text)
    expect(deltas.length).toBeGreaterThan(0)
    expect(deltas.join("")).toBe((events.at(-1)!.data as { output: string }).output)
    // Positions increase: what a client hands back as Last-Event-ID.
    const ids = events.map((e) => Number(e.id))
    expect(ids).toEqual([...ids].sort((a, b) => a - b))

    const run = await (await api(`/v1/runs/${id}`)).json() as Record<string, unknown>
    expect(run).toMatchObject({ id, workflow: "summarize", status: "succeeded", input: expect.any(String) })
    expect(run["usage"]).toEqual({ inputTokens: run["inputTokens"], outputTokens: run["outputTokens"] })
    expect((run["steps"] as Array<unknown>).length).toBeGreaterThan(0)
  })

  it("an agent's tool calls stream as events and show in GET /v1/runs/{id} (explore, on the simulated provider)", async () => {
    const started = await start({ workflow: "explore", input: "How are failed calls retried?" })
    const id = started.body["id"] as string
    const events = await finished(id)
    expect(events.filter((e) => e.event === "ToolCallFinished").map((e) => (e.data as { tool: string }).tool).sort())
      .toEqual(["readFile", "searchFiles"])
    const run = await (await api(`/v1/runs/${id}`)).json() as { toolCalls: ReadonlyArray<{ tool: string; agent: string; status: string }> }
    expect(run.toolCalls.map((c) => [c.tool, c.agent]).sort()).toEqual([["readFile", "explorer"], ["searchFiles", "explorer"]])
  })

  it("answers a repeated request with the same Idempotency-Key with the same run", async () => {
    const body = { workflow: "summarize", input: "idempotent text to summarize, once" }
    const first = await start(body, { "idempotency-key": "order-42" })
    const again = await start(body, { "idempotency-key": "order-42" })
    expect(first.body).toEqual({ id: first.body["id"], existing: false })
    expect(again.body).toEqual({ id: first.body["id"], existing: true })
    await finished(first.body["id"] as string)
    const later = await start(body, { "idempotency-key": "order-42" })
    expect(later.body["id"]).toBe(first.body["id"])
  })

  it("rejects bad requests with the reason: 400 with Schema issues, 404 unknown workflow, 413 over 1 MiB", async () => {
    const missing = await start({ input: "x" })
    expect(missing.status).toBe(400)
    expect(missing.body).toMatchObject({ _tag: "HttpApiDecodeError", issues: [{ path: ["workflow"] }] })
    const badInput = await start({ workflow: "summarize", input: 42 })
    expect(badInput.status).toBe(400)
    expect(badInput.body).toMatchObject({ _tag: "WorkflowInputError", workflow: "summarize" })
    const unknown = await start({ workflow: "nope", input: "x" })
    expect(unknown.status).toBe(404)
    expect(unknown.body).toMatchObject({ _tag: "UnknownWorkflow", available: ["code", "explore", "research", "summarize"] })
    const huge = await api("/v1/runs", { method: "POST", body: JSON.stringify({ workflow: "summarize", input: "a".repeat(1_100_000) }) })
    expect(huge.status).toBe(413)
    expect((await api("/v1/runs/does-not-exist")).status).toBe(404)
    expect((await api("/v1/runs?limit=0")).status).toBe(400)
    expect((await api("/v1/runs?status=bogus")).status).toBe(400)
  })

  it("lists runs filtered by workflow and status, page by page with a cursor", async () => {
    const ids: Array<string> = []
    for (let i = 0; i < 3; i++) ids.push((await start({ workflow: "code", input: `task ${i}: write a function` })).body["id"] as string)
    await Promise.all(ids.map(finished))
    const first = await (await api("/v1/runs?workflow=code&status=succeeded&limit=2")).json() as { runs: Array<{ id: string }>; nextCursor?: string }
    expect(first.runs.map((r) => r.id)).toEqual([ids[2], ids[1]])
    const second = await (await api(`/v1/runs?workflow=code&limit=2&cursor=${first.nextCursor}`)).json() as { runs: Array<{ id: string }>; nextCursor?: string }
    expect(second.runs.map((r) => r.id)).toEqual([ids[0]])
    expect(second.nextCursor).toBeUndefined()
    expect((await api("/v1/runs?cursor=not-a-cursor")).status).toBe(400)
  })

  it("cancels a running run (recorded cancelled); a finished or unknown one cannot be", async () => {
    const { body } = await start({ workflow: "research", input: "a long question", maxCostUsd: 5 })
    const id = body["id"] as string
    const cancelled = await api(`/v1/runs/${id}`, { method: "DELETE" })
    expect(await cancelled.json()).toEqual({ id, status: "cancelled" })
    expect(await (await api(`/v1/runs/${id}`)).json()).toMatchObject({ status: "cancelled", error: { tag: "Interrupted" } })
    const again = await api(`/v1/runs/${id}`, { method: "DELETE" })
    expect(again.status).toBe(409)
    expect((await api("/v1/runs/nope", { method: "DELETE" })).status).toBe(404)
  })

  it("resumes the event stream after Last-Event-ID: exactly the events after it, then live ones", async () => {
    const all = await readSse(`${server.url}/v1/events`, {
      headers: { ...auth, "last-event-id": "0" },
      until: (m) => m.length >= 12
    })
    const resumed = await readSse(`${server.url}/v1/events`, {
      headers: { ...auth, "last-event-id": all[5]!.id! },
      until: (m) => m.length >= 6
    })
    expect(resumed).toEqual(all.slice(6, 12))

    // Connected "from now", a client sees a run started after it connected, from its first event.
    let open: () => void = () => {}
    const opened = new Promise<void>((resolve) => (open = resolve))
    const live = readSse(`${server.url}/v1/events`, {
      headers: auth,
      onOpen: () => open(),
      until: (m) => m.some((e) => e.event === "WorkflowFinished")
    })
    await opened
    const { body } = await start({ workflow: "summarize", input: "a run started after the client connected" })
    const seen = await live
    expect(seen[0]).toMatchObject({ event: "WorkflowStarted", data: { runId: body["id"] } })
  })

  it("lists the workflows, and documents itself: /openapi.json and /docs", async () => {
    const workflows = await (await api("/v1/workflows")).json() as Array<{ name: string }>
    expect(workflows.map((w) => w.name)).toEqual(["code", "explore", "research", "summarize"])
    const spec = await (await fetch(`${server.url}/openapi.json`)).json() as { paths: Record<string, unknown> }
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(["/v1/runs", "/v1/runs/{id}", "/v1/runs/{id}/events", "/v1/events"]))
    const docs = await fetch(`${server.url}/docs`)
    expect(docs.status).toBe(200)
    expect(docs.headers.get("content-type")).toContain("text/html")
  })
})

describe("serve: starting and stopping", () => {
  it("refuses a non-loopback host without API_TOKEN (exit 2)", async () => {
    const result = await runCli(["serve", "--host", "0.0.0.0", "--port", "0"], { env: baseEnv("open") })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("refusing to serve on 0.0.0.0 without API_TOKEN")
  })

  it("SIGTERM: stops accepting, lets running workflows finish, records them, and exits 0", async () => {
    const server = await startServe(baseEnv("term", { SIM_LATENCY_MS: "400", SHUTDOWN_GRACE_SECONDS: "20" }))
    const post = (input: string) =>
      fetch(`${server.url}/v1/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ workflow: "summarize", input }) })
        .then((r) => r.json() as Promise<{ id: string }>)
    const ids = await Promise.all(["one", "two", "three"].map((t) => post(`text ${t} to summarize`)).map((p) => p.then((r) => r.id)))
    const watching = readSse(`${server.url}/v1/runs/${ids[0]}/events`)
    server.child.kill("SIGTERM")
    // New connections are refused at once, while the runs go on.
    await expect.poll(() => post("too late").then(() => "accepted", () => "refused"), { timeout: 2_000 }).toBe("refused")
    expect(await server.exited).toBe(0)
    // The SSE client saw its run end before the server went away.
    expect((await watching).at(-1)).toMatchObject({ event: "WorkflowFinished", data: { status: "succeeded" } })
    // The three, and any "too late" request that was still let in before the signal landed.
    expect(server.stderr()).toMatch(/shut down: [3-9] workflow\(s\) finished, 0 cancelled; history written/)
    const history = await runCli(["history", "--json"], { env: baseEnv("term") })
    const { runs } = JSON.parse(history.stdout) as { runs: Array<{ id: string; status: string }> }
    expect(runs.filter((r) => ids.includes(r.id)).map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded"])
  })

  it("without durable runs, a run answered 202 is in the history: killed with SIGKILL right after, it is there (interrupted) on restart", async () => {
    const env = baseEnv("kill", { SIM_LATENCY_MS: "2000", DURABLE_RUNS: "false" })
    const first = await startServe(env)
    const ids = await Promise.all([1, 2, 3, 4].map(async (i) => {
      const response = await fetch(`${first.url}/v1/runs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ workflow: "research", input: `question ${i}` })
      })
      return (await response.json() as { id: string }).id
    }))
    first.child.kill("SIGKILL")
    await first.exited
    const second = await startServe(env)
    for (const id of ids) {
      const run = await (await fetch(`${second.url}/v1/runs/${id}`)).json() as { status: string }
      expect(run.status).toBe("interrupted")
    }
    await second.stop()
  })

  it("without durable runs, SIGTERM with no grace left: cancels what still runs, records it cancelled, and exits 0", async () => {
    const server = await startServe(baseEnv("cut", { SIM_LATENCY_MS: "3000", SHUTDOWN_GRACE_SECONDS: "0", DURABLE_RUNS: "false" }))
    const response = await fetch(`${server.url}/v1/runs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ workflow: "research", input: "slow question" })
    })
    const { id } = await response.json() as { id: string }
    server.child.kill("SIGTERM")
    expect(await server.exited).toBe(0)
    expect(server.stderr()).toMatch(/0 workflow\(s\) finished, 1 cancelled; history written/)
    const shown = await runCli(["history", "show", id, "--json"], { env: baseEnv("cut") })
    expect(JSON.parse(shown.stdout)).toMatchObject({ id, status: "cancelled" })
  })
})
