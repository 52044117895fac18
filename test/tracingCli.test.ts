/**
 * Traces from the built CLI in a child process, as a user runs it with `OTEL_EXPORTER_OTLP_ENDPOINT`
 * pointing at a collector (here a loopback OTLP receiver): the spans of a run arrive, sent as the
 * process exits — also when SIGTERM stops it mid-run —, the run's trace id is in its progress line,
 * its log lines and its history; a collector that refuses the export costs one warning; bad OTEL_*
 * values are configuration errors (exit 2) that never show a header's value.
 */
import { spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { binPath, runCli } from "./support/cli.js"
import * as Receiver from "./support/OtlpReceiver.js"

const simEnv = { SIM_LATENCY_MS: "0", SIM_ERROR_RATE: "0", SIM_RATE_LIMIT_RATE: "0" }
const HEADER_SECRET = "collector-token-77"

let receiver: Receiver.OtlpReceiver
beforeAll(async () => {
  receiver = await Receiver.start()
})
afterAll(() => receiver.close())

const spansOfRun = (runId: string) => {
  const run = receiver.spans().find((s) => s.attributes["workflow.run_id"] === runId && s.name.startsWith("Workflow."))
  return run === undefined ? [] : receiver.spans().filter((s) => s.traceId === run.traceId)
}

describe("effect-agents with OTEL_EXPORTER_OTLP_ENDPOINT", () => {
  it("run exports its spans before it exits, and prints and records its trace id", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-otel-"))
    const env = {
      ...simEnv,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${HEADER_SECRET}`,
      LOG_LEVEL: "DEBUG"
    }
    const sent = receiver.requests.length
    const r = await runCli(["run", "summarize", "--input", "Owls hunt at night.", "--json"], { cwd, env })
    const exitedAt = Date.now()
    expect(r.code).toBe(0)
    const { id } = JSON.parse(r.stdout) as { id: string }

    // Everything arrived while the process was still there: the release at exit sent what was left.
    const requests = receiver.requests.slice(sent)
    expect(requests.length).toBeGreaterThan(0)
    expect(requests.every((request) => request.receivedAt <= exitedAt)).toBe(true)
    const spans = spansOfRun(id)
    expect(spans.map((s) => s.name).sort()).toEqual(
      ["Agent.summarizer", "LanguageModel.streamText", "Step.summarize", "Workflow.summarize", "chat simulated-1"]
    )
    expect(spans[0]!.resource["service.name"]).toBe("effect-agents")
    expect(receiver.requests.at(-1)!.headers["authorization"]).toBe(`Bearer ${HEADER_SECRET}`)
    const traceId = spans[0]!.traceId

    expect(r.stderr).toContain(`summarize started · trace ${traceId}`)
    const logLines = r.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>)
    const runLines = logLines.filter((l) => l["runId"] === id)
    expect(runLines.length).toBeGreaterThan(0)
    expect(runLines.every((l) => l["traceId"] === traceId)).toBe(true)
    expect(r.stderr).not.toContain(HEADER_SECRET)

    const shown = await runCli(["history", "show", id, "--json"], { cwd, env: simEnv })
    expect((JSON.parse(shown.stdout) as { traceId?: string }).traceId).toBe(traceId)
    const human = await runCli(["history", "show", id], { cwd, env: simEnv })
    expect(human.stdout).toContain(`Trace    ${traceId}`)
  }, 60_000)

  it("SIGTERM mid-run still exports the run's spans, the run marked cancelled; exit 143", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-otel-"))
    const child = spawn(process.execPath, [binPath, "run", "research", "--input", "Why do owls hoot?", "--no-tui", "--json"], {
      cwd,
      env: { PATH: process.env["PATH"] ?? "", SIM_LATENCY_MS: "300", SIM_ERROR_RATE: "0", SIM_RATE_LIMIT_RATE: "0", OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve))
    const deadline = Date.now() + 30_000
    while (!stderr.includes("decompose done")) {
      if (Date.now() > deadline) throw new Error(`the first step never finished; stderr:\n${stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    child.kill("SIGTERM")
    expect(await exited).toBe(143)

    const traceId = /research started · trace ([0-9a-f]{32})/.exec(stderr)?.[1]
    expect(traceId).toBeDefined()
    const spans = receiver.spans().filter((s) => s.traceId === traceId)
    const run = spans.find((s) => s.name === "Workflow.research")!
    expect(run.attributes["workflow.status"]).toBe("cancelled")
    expect(run.attributes["status.interrupted"]).toBe(true)
    expect(spans.find((s) => s.name === "Step.decompose")!.attributes["workflow.status"]).toBe("succeeded")
    expect(spans.some((s) => s.name.startsWith("Step.answer"))).toBe(true)
  }, 60_000)

  it("a collector that refuses the export costs one warning naming it; the run is unaffected and no header shows", async () => {
    const refusing = await Receiver.start()
    refusing.setStatus(401)
    try {
      const r = await runCli(["run", "summarize", "--input", "Owls.", "--json"], {
        cwd: mkdtempSync(join(tmpdir(), "ea-otel-")),
        env: { ...simEnv, OTEL_EXPORTER_OTLP_ENDPOINT: refusing.url, OTEL_EXPORTER_OTLP_HEADERS: `x-team=${HEADER_SECRET}` }
      })
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({ status: "succeeded" })
      const warnings = r.stderr.split("\n").filter((l) => l.includes("trace export"))
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain(`trace export to ${refusing.url}/v1/traces failed: HTTP 401`)
      expect(r.stderr).not.toContain(HEADER_SECRET)
      expect(refusing.requests).toHaveLength(1)
    } finally {
      await refusing.close()
    }
  }, 60_000)

  it("bad OTEL_* values are configuration errors listed together, exit 2, a header's value never shown", async () => {
    const r = await runCli(["run", "summarize", "--input", "x"], {
      cwd: mkdtempSync(join(tmpdir(), "ea-otel-")),
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: "localhost:4318",
        OTEL_EXPORTER_OTLP_HEADERS: `x-team=${HEADER_SECRET},oops`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc"
      }
    })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("Invalid configuration (3 problems)")
    expect(r.stderr).toContain("OTEL_EXPORTER_OTLP_ENDPOINT: expected an http(s) URL, found \"localhost:4318\"")
    expect(r.stderr).toContain("OTEL_EXPORTER_OTLP_HEADERS: expected comma-separated name=value pairs, values %-encoded, found <redacted>")
    expect(r.stderr).toContain("OTEL_EXPORTER_OTLP_PROTOCOL: expected http/protobuf | http/json, found \"grpc\"")
    expect(r.stderr).not.toContain(HEADER_SECRET)
  })
})
