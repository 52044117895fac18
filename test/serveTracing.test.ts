/**
 * Traces through the API: a caller's W3C `traceparent` on `POST /v1/runs` puts the request's span
 * and the run's spans in the caller's trace, exported over OTLP to a real receiver on loopback,
 * and the run keeps that trace id in the history.
 */
import { randomBytes } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as OtlpReceiver from "./support/OtlpReceiver.js"
import { readSse, type ServeProcess, startServe } from "./support/serveProcess.js"

describe("serve: traces", () => {
  let receiver: OtlpReceiver.OtlpReceiver
  let server: ServeProcess
  beforeAll(async () => {
    receiver = await OtlpReceiver.start()
    server = await startServe({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: "agents-api",
      SIM_LATENCY_MS: "10",
      SIM_ERROR_RATE: "0",
      SIM_RATE_LIMIT_RATE: "0"
    })
  })
  afterAll(async () => {
    await server.stop("SIGKILL")
    await receiver.close()
  })

  it("a POST with traceparent joins the caller's trace: request span → run → steps → LLM attempts; the run keeps the trace id", async () => {
    const traceId = randomBytes(16).toString("hex")
    const callerSpan = randomBytes(8).toString("hex")
    const response = await fetch(`${server.url}/v1/runs`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${traceId}-${callerSpan}-01` },
      body: JSON.stringify({ workflow: "summarize", input: "a traced text to summarize" })
    })
    expect(response.status).toBe(202)
    const { id } = await response.json() as { id: string }
    await readSse(`${server.url}/v1/runs/${id}/events`)

    const run = await (await fetch(`${server.url}/v1/runs/${id}`)).json() as { traceId?: string }
    expect(run.traceId).toBe(traceId)
    // Spans are batched by the exporter: wait until the run's own span has arrived.
    await expect.poll(() => receiver.spans().some((s) => s.name === "Workflow.summarize"), { timeout: 10_000 }).toBe(true)
    const spans = receiver.spans().filter((s) => s.traceId === traceId)
    const request = spans.find((s) => s.parentSpanId === callerSpan)
    expect(request?.name).toMatch(/POST/)
    // The run descends from the request, through the durable engine's spans (submit, entity, run).
    const workflow = spans.find((s) => s.name === "Workflow.summarize")!
    const ancestors: Array<string> = []
    for (let span = workflow; span.parentSpanId !== undefined;) {
      const parent = spans.find((s) => s.spanId === span.parentSpanId)
      if (parent === undefined) break
      ancestors.push(parent.name)
      span = parent
    }
    expect(ancestors).toContain(request!.name)
    const attempts = spans.filter((s) => s.attributes["gen_ai.operation.name"] === "chat")
    expect(attempts.length).toBeGreaterThan(0)
    expect(attempts.every((s) => s.attributes["gen_ai.request.model"] !== undefined)).toBe(true)
  })
})
