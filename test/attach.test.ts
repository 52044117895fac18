/**
 * The remote dashboard's client against a real `effect-agents serve` child process on loopback:
 * the event stream survives the server being killed (SIGKILL) and restarted on the same port and
 * data directory — the client resumes with `Last-Event-ID` and ends with every run's events exactly
 * once — and the command fails clearly (exit 2) on an unreachable server or a refused token,
 * without touching `DATA_DIR`.
 *
 * Real clock and sockets: what is under test is a real connection dying.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Fiber, Layer, ManagedRuntime, Option, Stream } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as RemoteApi from "../src/cli/remoteApi.js"
import type { FollowItem } from "../src/cli/remoteEvents.js"
import type { WorkflowEvent } from "../src/services/WorkflowEvents.js"
import { binPath, runCli } from "./support/cli.js"
import { freePort, type ServeProcess, startServe } from "./support/serveProcess.js"

const servers: Array<ServeProcess> = []
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop("SIGKILL")))
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls until `predicate` holds; fails saying `what` after `timeoutMs`. */
const waitUntil = async (predicate: () => boolean, what: string, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

const serverEnv = (dir: string, extra: Record<string, string> = {}) => ({
  DATA_DIR: join(dir, "data"),
  LOG_DIR: join(dir, "logs"),
  SIM_LATENCY_MS: "40",
  ...extra
})

type Received = { readonly seq: number; readonly event: WorkflowEvent }

const runIdOf = (event: WorkflowEvent): string | undefined => ("runId" in event ? event.runId : undefined)

describe("remote dashboard client", () => {
  it("resumes with Last-Event-ID after the server is killed and restarted: every run's events exactly once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ea-attach-"))
    const port = await freePort()
    const env = serverEnv(dir)
    let server = await startServe(env, { port })
    servers.push(server)

    // Every request for the event stream, with what the client had received when it was sent.
    const items: Array<FollowItem> = []
    const events = (): ReadonlyArray<Received> => items.flatMap((i) => (i._tag === "Event" ? [i] : []))
    const lastSeq = () => events().at(-1)?.seq
    const streamRequests: Array<{ readonly lastEventId: string | undefined; readonly received: number | undefined }> = []
    const recording = Layer.effect(
      HttpClient.HttpClient,
      Effect.map(HttpClient.HttpClient, (client) =>
        HttpClient.tapRequest(client, (request) =>
          Effect.sync(() => {
            if (request.url.endsWith("/v1/events")) streamRequests.push({ lastEventId: request.headers["last-event-id"], received: lastSeq() })
          })))
    ).pipe(Layer.provide(NodeHttpClient.layerUndici))
    // The client's connection pool lives as long as this runtime.
    const runtime = ManagedRuntime.make(recording)
    const api = await runtime.runPromise(RemoteApi.make(server.url, Option.none()))
    const run = <A, E>(effect: Effect.Effect<A, E>) => runtime.runPromise(effect)

    const follower = runtime.runFork(
      api.events(0, { initialDelay: "100 millis", maxDelay: "400 millis" }).pipe(
        Stream.runForEach((item) => Effect.sync(() => void items.push(item)))
      )
    )
    await waitUntil(() => items.some((i) => i._tag === "Status" && i.status.state === "connected"), "the first connection")

    // Runs in flight when the server dies: some of their events arrive before, the rest after the restart resumes them.
    const before = await run(Effect.forEach([1, 2, 3, 4], (i) => api.start("research", `question ${i}`)))
    await waitUntil(() => events().length >= 12, "events of the first runs")
    await server.stop("SIGKILL")
    await waitUntil(() => items.some((i) => i._tag === "Status" && i.status.state === "reconnecting"), "the client to notice")
    server = await startServe(env, { port })
    servers.push(server)

    const after = await run(Effect.forEach([1, 2, 3], (i) => api.start("summarize", `text ${i}`)))
    const finished = (id: string) => events().some((e) => e.event._tag === "WorkflowFinished" && e.event.runId === id)
    // Every run ends: those started after the restart, and those the killed server left running,
    // which the restarted one resumes (under load that can take longer than the new ones).
    await waitUntil(() => [...before, ...after].every(finished), "every run to finish")
    await sleep(300)
    await run(Fiber.interrupt(follower))

    // Each request after the first resumed from exactly what the client had received.
    expect(streamRequests.length).toBeGreaterThanOrEqual(2)
    expect(streamRequests[0]?.lastEventId).toBe("0")
    for (const request of streamRequests.slice(1)) expect(request.lastEventId).toBe(String(request.received))
    expect(streamRequests.some((r, i) => i > 0 && (r.received ?? 0) > 0)).toBe(true)

    // The server's whole log, read afresh in one connection, is what the client saw: no gap, no repeat.
    const log: Array<Received> = []
    const reader = runtime.runFork(api.events(0).pipe(Stream.runForEach((i) => Effect.sync(() => void (i._tag === "Event" && log.push(i))))))
    await waitUntil(() => log.at(-1)?.seq === lastSeq(), "the fresh read of the log")
    await run(Fiber.interrupt(reader))
    const seqs = events().map((e) => e.seq)
    expect(new Set(seqs).size).toBe(seqs.length)
    expect(seqs).toEqual(log.map((e) => e.seq))
    expect(events().map((e) => `${e.event._tag} ${runIdOf(e.event)}`)).toEqual(log.map((e) => `${e.event._tag} ${runIdOf(e.event)}`))

    // And what the server's runs say: one end per finished run with its status; a run the killed
    // server left running was resumed by the restarted one (a durable run), so it started twice.
    const page = await run(
      HttpClient.get(`${server.url}/v1/runs?limit=100`).pipe(
        Effect.flatMap((r) => r.json),
        Effect.provide(NodeHttpClient.layerUndici)
      )
    ) as { runs: ReadonlyArray<{ id: string; status: string }> }
    // Every run the client heard of is in the list, and the other way round.
    const seen = new Set(events().flatMap((e) => runIdOf(e.event) ?? []))
    expect(page.runs.map((r) => r.id).sort()).toEqual([...seen].sort())
    expect(page.runs.every((r) => before.includes(r.id) || after.includes(r.id))).toBe(true)
    for (const summary of page.runs) {
      const of = events().filter((e) => runIdOf(e.event) === summary.id).map((e) => e.event)
      const starts = of.filter((e) => e._tag === "WorkflowStarted").length
      expect(starts === 1 || (starts === 2 && before.includes(summary.id))).toBe(true)
      const ends = of.filter((e) => e._tag === "WorkflowFinished")
      expect(ends.map((e) => e._tag === "WorkflowFinished" && e.status)).toEqual([summary.status])
    }
    expect(page.runs.filter((r) => after.includes(r.id)).map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded"])
    await runtime.dispose()
  }, 60_000)

  it("exits 2 at once when nothing listens at the URL, without needing a usable DATA_DIR", async () => {
    const port = await freePort()
    const started = Date.now()
    const result = await runCli(["dashboard", "--attach", `http://127.0.0.1:${port}`], {
      env: { DATA_DIR: "/proc/not-a-dir/data", LOG_DIR: "/proc/not-a-dir/logs" }
    })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`ServerUnreachable: cannot reach http://127.0.0.1:${port}: ECONNREFUSED`)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it("exits 2 on a refused token without printing it, and follows the server with the right one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ea-attach-token-"))
    const token = "right-token-0123456789"
    const server = await startServe(serverEnv(dir, { API_TOKEN: token }))
    servers.push(server)

    const none = await runCli(["dashboard", "--attach", server.url], { cwd: dir })
    expect(none.code).toBe(2)
    expect(none.stderr).toContain("refused the request (401)")
    const wrong = await runCli(["dashboard", "--attach", server.url, "--token", "wrong-token-abcdefghij"], { cwd: dir })
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain("(401)")
    expect(wrong.stderr + wrong.stdout).not.toContain("wrong-token-abcdefghij")

    // API_TOKEN from the environment; no terminal, so progress lines on stderr until Ctrl-C.
    const child = spawn(process.execPath, [binPath, "dashboard", "--attach", server.url], {
      cwd: dir,
      env: { PATH: process.env["PATH"] ?? "", API_TOKEN: token },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    await waitUntil(() => stderr.includes("connected to"), "the client to connect")
    const response = await fetch(`${server.url}/v1/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ workflow: "summarize", input: "a text" })
    })
    const { id } = await response.json() as { id: string }
    await waitUntil(() => stderr.includes(`[${id.slice(0, 8)}] summarize succeeded`), "the run's progress lines")
    child.kill("SIGINT")
    expect(await exited).toBe(130)
    expect(stderr).not.toContain(token)
  }, 40_000)
})
