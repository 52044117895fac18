/**
 * Telemetry — the Effect `Metric`s of `services/Metrics.ts` on a Prometheus `/metrics` endpoint.
 *
 * `@effect/opentelemetry` turns the global Effect metric registry into an OpenTelemetry
 * `MetricProducer`; `@opentelemetry/exporter-prometheus` reads it and renders the Prometheus text
 * format. `layer` serves that on `http://METRICS_HOST:METRICS_PORT/metrics` when
 * `ENABLE_METRICS_SERVER=true` (off by default, loopback by default); `scrape` renders the same
 * text without a server, for tests and the API.
 */
import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as OtelResource from "@effect/opentelemetry/Resource"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { Effect, Layer, Metric, Schema } from "effect"
import { createServer, type Server } from "node:http"
import { AppConfig } from "../services/AppConfig.js"
import * as Metrics from "../services/Metrics.js"

/** The path Prometheus scrapes. */
export const metricsPath = "/metrics"

/** The content type of the exposition (Prometheus text format 0.0.4). */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * The metrics server could not listen on `host:port` (port in use, no permission, unknown host).
 * A startup error the CLI reports in one line, not a crash trace.
 */
export class MetricsServerError extends Schema.TaggedError<MetricsServerError>()("MetricsServerError", {
  host: Schema.String,
  port: Schema.Number,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `cannot serve metrics on ${this.host}:${this.port}: ${this.reason}`
  }
}

// Scope labels (`otel_scope_name`) would be added to every series and break the label sets the
// README documents; `target_info` stays, as OpenTelemetry's standard carrier of the service name.
const exporterOptions = { withoutScopeInfo: true } as const

const resource = OtelResource.layer({ serviceName: "effect-agents" })

/**
 * Series without labels exist from the start (at 0), so dashboards show 0 rather than "no data"
 * before the first workflow or cache lookup. Labelled series appear on their first update.
 */
const registerUnlabelled = Effect.all([
  Metric.value(Metrics.activeWorkflows),
  Metric.value(Metrics.llmCacheHitsTotal),
  Metric.value(Metrics.llmCacheMissesTotal)
], { discard: true })

// One serializer for the server and `scrape`, so both render the same text (the exporter's own is private).
const serializer = new PrometheusSerializer(undefined, false, undefined, false, exporterOptions.withoutScopeInfo)

/**
 * The current Prometheus exposition of every Effect metric, rendered in-process without a server —
 * the same text `GET /metrics` returns (serve it with `contentType`). Use it in tests or to serve
 * metrics from the API.
 */
export const scrape: Effect.Effect<string> = Effect.gen(function*() {
  yield* registerUnlabelled
  const producer = yield* OtelMetrics.makeProducer
  const { resourceMetrics } = yield* Effect.promise(() => producer.collect())
  return serializer.serialize(resourceMetrics)
}).pipe(Effect.provide(resource))

const reasonOf = (error: unknown): string => {
  const code = (error as { readonly code?: unknown } | null)?.code
  switch (code) {
    case "EADDRINUSE":
      return "address already in use"
    case "EACCES":
      return "permission denied"
    case "EADDRNOTAVAIL":
      return "address not available on this machine"
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "unknown host"
    default:
      return error instanceof Error ? error.message : String(error)
  }
}

const listen = (server: Server, host: string, port: number) =>
  Effect.async<void, MetricsServerError>((resume) => {
    const onError = (error: Error) => {
      server.off("listening", onListening)
      resume(Effect.fail(new MetricsServerError({ host, port, reason: reasonOf(error), cause: error })))
    }
    const onListening = () => {
      server.off("error", onError)
      resume(Effect.void)
    }
    server.once("error", onError).once("listening", onListening)
    server.listen({ host, port })
  })

const close = (server: Server) =>
  Effect.async<void>((resume) => {
    server.close(() => resume(Effect.void))
    // Idle keep-alive connections (Prometheus keeps one) would otherwise hold close() open.
    server.closeAllConnections()
  })

/**
 * Serves the exposition on `http://host:port/metrics` for the lifetime of the Layer; the server
 * closes when the Layer is released. Fails with `MetricsServerError` when it cannot listen.
 */
export const layerServer = (options: {
  readonly host: string
  readonly port: number
}): Layer.Layer<never, MetricsServerError> =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const { host, port } = options
    yield* registerUnlabelled
    // The exporter is the MetricReader each scrape collects through; its own HTTP server is not
    // used because it builds its base URL from the host unbracketed, so with an IPv6 host (`::1`,
    // `::`) it answers every request with 400, and it gives no typed listen error.
    const exporter = new PrometheusExporter({ ...exporterOptions, preventServerStart: true })
    const producer = yield* OtelMetrics.makeProducer
    yield* OtelMetrics.registerProducer(producer, () => exporter)
    const server = createServer((request, response) => {
      const path = (request.url ?? "").split("?")[0]
      if (path === metricsPath && (request.method === "GET" || request.method === "HEAD")) {
        exporter.collect().then(
          ({ resourceMetrics }) => {
            response.writeHead(200, { "content-type": contentType }).end(serializer.serialize(resourceMetrics))
          },
          (error: unknown) => {
            response.writeHead(500, { "content-type": "text/plain" }).end(`# failed to collect metrics: ${error}`)
          }
        )
      } else {
        response.statusCode = 404
        response.end()
      }
    })
    yield* Effect.acquireRelease(listen(server, host, port), () => close(server))
    yield* Effect.logInfo(`serving Prometheus metrics on http://${host.includes(":") ? `[${host}]` : host}:${port}${metricsPath}`)
  }).pipe(Effect.provide(resource)))

/**
 * The metrics server as configured by `AppConfig` (`ENABLE_METRICS_SERVER`, `METRICS_HOST`,
 * `METRICS_PORT`): `Layer.empty` when disabled — the default — so no port is opened; otherwise
 * `layerServer` on the configured host and port.
 */
export const layer: Layer.Layer<never, MetricsServerError, AppConfig> = Layer.unwrapEffect(
  Effect.map(AppConfig, ({ metrics }) =>
    metrics.enabled ? layerServer({ host: metrics.host, port: metrics.port }) : Layer.empty
  )
)
