/**
 * OtlpReceiver — a real OTLP/HTTP collector on a loopback port, for tests of trace export.
 *
 * It accepts `POST /v1/traces` (and any path ending in `/v1/traces`, as vendors' endpoints do),
 * keeps each request's headers and raw bytes, and decodes the spans in either OTLP encoding:
 * protobuf (`application/x-protobuf`, what the exporter sends by default; decoded by
 * `otlpProtobuf.ts`) or JSON (`application/json`). It answers 200, or the status a test sets.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, type Scope } from "effect"
import { type AttributeValue, decodeTraces, type ExportedSpan } from "./otlpProtobuf.js"

export type { AttributeValue, ExportedSpan } from "./otlpProtobuf.js"

/** One export request as received; header names are lower-case. */
export interface ExportRequest {
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly contentType: string
  readonly body: Buffer
  /** When it arrived (epoch ms). */
  readonly receivedAt: number
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:PORT`: an `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly url: string
  readonly requests: ReadonlyArray<ExportRequest>
  /** Every span received so far, decoded, in arrival order. */
  readonly spans: () => ReadonlyArray<ExportedSpan>
  /** The status the next requests are answered with (default 200). */
  readonly setStatus: (status: number) => void
  readonly close: () => Promise<void>
}

// OTLP/JSON: ids in hex, values as { stringValue | intValue | doubleValue | boolValue | arrayValue }.
interface JsonKeyValue {
  readonly key: string
  readonly value: JsonAnyValue
}
interface JsonAnyValue {
  readonly stringValue?: string
  readonly boolValue?: boolean
  readonly intValue?: number | string
  readonly doubleValue?: number
  readonly arrayValue?: { readonly values: ReadonlyArray<JsonAnyValue> }
}
interface JsonSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly kind: number
  readonly startTimeUnixNano: string
  readonly endTimeUnixNano: string
  readonly attributes: ReadonlyArray<JsonKeyValue>
  readonly status: { readonly code: number; readonly message?: string }
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: ReadonlyArray<JsonKeyValue> }>
}
interface JsonTraces {
  readonly resourceSpans: ReadonlyArray<{
    readonly resource: { readonly attributes: ReadonlyArray<JsonKeyValue> }
    readonly scopeSpans: ReadonlyArray<{ readonly scope: { readonly name: string }; readonly spans: ReadonlyArray<JsonSpan> }>
  }>
}

const jsonValue = (v: JsonAnyValue): AttributeValue =>
  v.stringValue ?? v.boolValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ??
    (v.arrayValue?.values ?? []).map(jsonValue)

const jsonAttributes = (kvs: ReadonlyArray<JsonKeyValue>): Record<string, AttributeValue> =>
  Object.fromEntries(kvs.map((kv) => [kv.key, jsonValue(kv.value)]))

const decodeJson = (body: Buffer): ReadonlyArray<ExportedSpan> =>
  (JSON.parse(body.toString("utf8")) as JsonTraces).resourceSpans.flatMap((rs) =>
    rs.scopeSpans.flatMap((ss) =>
      ss.spans.map((s): ExportedSpan => ({
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId,
        name: s.name,
        kind: s.kind,
        startNanos: BigInt(s.startTimeUnixNano),
        endNanos: BigInt(s.endTimeUnixNano),
        attributes: jsonAttributes(s.attributes),
        status: { code: s.status.code, message: s.status.message },
        events: s.events.map((e) => ({ name: e.name, attributes: jsonAttributes(e.attributes) })),
        resource: jsonAttributes(rs.resource.attributes),
        scope: ss.scope.name
      }))
    )
  )

/** The spans of one request, by its content type. */
export const decodeRequest = (request: ExportRequest): ReadonlyArray<ExportedSpan> =>
  request.contentType.startsWith("application/x-protobuf")
    ? decodeTraces(new Uint8Array(request.body))
    : decodeJson(request.body)

/** Starts a receiver on 127.0.0.1 (an ephemeral port). Prefer `make`, which closes it with the scope. */
export const start = (): Promise<OtlpReceiver> => {
  const requests: Array<ExportRequest> = []
  let status = 200
  const server = Http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0] ?? "/"
      if (req.method !== "POST" || !path.endsWith("/v1/traces")) {
        res.writeHead(404).end()
        return
      }
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v
      requests.push({ path, headers, contentType: headers["content-type"] ?? "", body: Buffer.concat(chunks), receivedAt: Date.now() })
      res.writeHead(status, { "content-type": "application/json" }).end(status === 200 ? "{}" : "{\"error\":\"refused\"}")
    })
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen({ port: 0, host: "127.0.0.1" }, () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        spans: () => requests.filter((r) => r.path.endsWith("/v1/traces")).flatMap(decodeRequest),
        setStatus: (s) => {
          status = s
        },
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })
}

/** A receiver that lives as long as the surrounding scope. */
export const make: Effect.Effect<OtlpReceiver, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(start),
  (receiver) => Effect.promise(() => receiver.close())
)

/** The spans as a tree: each span's name with its children's, for assertions on shape. */
export const childrenOf = (spans: ReadonlyArray<ExportedSpan>, parent: ExportedSpan): ReadonlyArray<ExportedSpan> =>
  spans.filter((s) => s.parentSpanId === parent.spanId)
