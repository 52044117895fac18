/**
 * What the remote dashboard shows from what it follows: the server's events folded as a local
 * dashboard folds them, the connection in the header and the log, the server's provider once seen,
 * and runs a killed server left running ended as interrupted — once.
 */
import { describe, expect, it } from "vitest"
import type { FollowItem } from "../src/cli/remoteEvents.js"
import * as RemoteSource from "../src/cli/remoteSource.js"
import type { RunSummary } from "../src/services/RunHistory.js"
import { LlmCallStarted, type WorkflowEvent, WorkflowFinished, WorkflowStarted } from "../src/services/WorkflowEvents.js"

const T0 = 1_700_000_000_000
let seq = 0
const ev = (event: WorkflowEvent): FollowItem => ({ _tag: "Event", seq: ++seq, event })
const started = (runId: string) => ev(new WorkflowStarted({ runId, workflow: "research", input: "x", at: T0 }))
const finished = (runId: string) =>
  ev(new WorkflowFinished({ runId, workflow: "research", status: "succeeded", usage: { inputTokens: 1, outputTokens: 1 }, costUsd: 0, durationMs: 5, at: T0 + 5 }))
const status = (state: "connecting" | "connected" | "reconnecting", extra: { attempt?: number; reason?: string; retryInMs?: number } = {}): FollowItem => ({
  _tag: "Status",
  status: { state, attempt: extra.attempt ?? 0, reason: extra.reason, retryInMs: extra.retryInMs }
})
const interrupted = (id: string): RunSummary => ({ id, workflow: "research", status: "interrupted", startedAt: T0, inputTokens: 0, outputTokens: 0, costUsd: 0 })

describe("remote dashboard source", () => {
  it("folds a chunk of events into the state and tells the listeners once", () => {
    const remote = RemoteSource.make("host:1", () => T0)
    let told = 0
    remote.source.subscribe(() => void told++)
    remote.apply([started("a"), started("b"), finished("a")])
    expect(told).toBe(1)
    expect(remote.source.getState().totals).toMatchObject({ running: 1, succeeded: 1 })
  })

  it("shows the connection in the header and each change in the log", () => {
    const remote = RemoteSource.make("host:1", () => T0)
    expect(remote.source.getRemote?.()).toMatchObject({ server: "host:1", connection: "connecting" })
    remote.apply([status("connected"), started("a"), status("reconnecting", { attempt: 2, reason: "ECONNREFUSED", retryInMs: 1200 })])
    expect(remote.source.getRemote?.()).toMatchObject({ connection: "reconnecting", note: "(attempt 2, next in 1.2s: ECONNREFUSED)" })
    remote.apply([status("connected")])
    expect(remote.source.getRemote?.()).toMatchObject({ connection: "connected", note: undefined })
    expect(remote.source.getLogs().map((l) => `${l.level} ${l.message}`)).toEqual([
      "INFO connected to host:1",
      "WARNING connection to host:1 lost (ECONNREFUSED); attempt 2 in 1.2s",
      `INFO connected to host:1, resuming after event ${seq}`
    ])
  })

  it("learns the server's provider and model from its LLM calls", () => {
    const remote = RemoteSource.make("host:1")
    remote.apply([ev(new LlmCallStarted({ runId: "a", stepId: "s", agent: "writer", model: "simulated-1", provider: "simulated", attempt: 1, at: T0 }))])
    expect(remote.source.getRemote?.()).toMatchObject({ provider: "simulated", model: "simulated-1" })
  })

  it("ends runs shown running that the server's history calls interrupted, as cancelled, once", () => {
    const remote = RemoteSource.make("host:1")
    remote.apply([started("a"), started("b"), started("c"), finished("c")])
    remote.settleInterrupted([interrupted("a"), interrupted("c"), interrupted("unknown")])
    remote.settleInterrupted([interrupted("a")])
    const state = remote.source.getState()
    expect(state.totals).toMatchObject({ running: 1, succeeded: 1, cancelled: 1 })
    expect(state.finished.find((r) => r.runId === "a")).toMatchObject({ status: "cancelled", error: { tag: "Interrupted" } })
    expect(remote.hasRunning()).toBe(true)
  })
})
