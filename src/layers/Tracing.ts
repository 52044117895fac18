/**
 * Tracing — spans exported over OTLP/HTTP to any OpenTelemetry collector or vendor (Jaeger, Tempo,
 * Honeycomb, Sentry, ...), with `@effect/opentelemetry`'s OTLP tracer: no OpenTelemetry SDK.
 *
 * `layer` reads `AppConfig.tracing` (the standard `OTEL_*` variables) and is `Layer.empty` when no
 * endpoint is set: Effect's built-in tracer stays, and the spans of workflows, steps, agents and
 * LLM calls are not even made (`internal/tracing.ts`). With an endpoint, finished spans are sent in
 * batches every 5 s; the rest are sent when the Layer is released (the CLI's exit, also on SIGINT /
 * SIGTERM), waiting at most 3 s for the collector. Export headers (`OTEL_EXPORTER_OTLP_HEADERS`)
 * are secret: they appear in no log line. A failed export is logged once a minute, as a warning
 * naming the endpoint and why; its spans are dropped (the run itself is never affected).
 */
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { ConfigProvider, type Duration, Effect, Layer, Option, Redacted } from "effect"
import { plainErrors, withoutInterruptLabels } from "../internal/otlpSpans.js"
import { foldProviderSpans } from "../internal/providerSpans.js"
import { AppConfig, type OtlpProtocol } from "../services/AppConfig.js"

/** Where and how spans are exported. */
export interface Options {
  /** The URL spans are POSTed to (`.../v1/traces`). */
  readonly url: string
  /** Default `http/protobuf`, the OpenTelemetry default. */
  readonly protocol?: OtlpProtocol | undefined
  readonly headers?: Redacted.Redacted<Readonly<Record<string, string>>> | undefined
  /** Default `effect-agents`. */
  readonly serviceName?: string | undefined
  readonly resourceAttributes?: Readonly<Record<string, string>> | undefined
  /** How often finished spans are sent; default 5 s. */
  readonly exportInterval?: Duration.DurationInput | undefined
  /** How long the release waits for the last export; default 3 s. */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
}

/** A failed export is logged at most this often (the exporter pauses a minute after one anyway). */
const warnEveryMs = 60_000

/** The endpoint as logs show it: no credentials, no query. */
const shown = (url: string): string => {
  const parsed = new URL(url)
  return `${parsed.origin}${parsed.pathname}`
}

/** The exporter's HTTP client, warning when an export fails (status or transport). */
const reportingClient = (url: string): Layer.Layer<HttpClient.HttpClient> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (client) => {
      let quietUntil = 0
      const warn = (why: string) =>
        Effect.clockWith((clock) => {
          const now = clock.unsafeCurrentTimeMillis()
          if (now < quietUntil) return Effect.void
          quietUntil = now + warnEveryMs
          return Effect.logWarning(`trace export to ${shown(url)} failed: ${why}; spans are dropped until it works again`)
        })
      return client.pipe(
        HttpClient.tap((response) => (response.status >= 300 ? warn(`HTTP ${response.status}`) : Effect.void)),
        // Not the error's message: it names the request's URL, which may hold credentials.
        HttpClient.tapError((error) => warn(error.cause instanceof Error ? error.cause.message : `${error.reason} error`))
      )
    })
  ).pipe(Layer.provide(NodeHttpClient.layerUndici))

const serialization = (protocol: OtlpProtocol): Layer.Layer<OtlpSerialization.OtlpSerialization> =>
  Layer.effect(
    OtlpSerialization.OtlpSerialization,
    Effect.map(OtlpSerialization.OtlpSerialization, withoutInterruptLabels)
  ).pipe(Layer.provide(protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf))

// The resource is made from the options only: the package would also read OTEL_* from the process
// environment, which `AppConfig` has read already (with `.env`, and validated).
const noEnvironment = ConfigProvider.fromMap(new Map())

/** Every span of the program exported to `options.url` over OTLP/HTTP, for the life of the Layer. */
export const layerOtlp = (options: Options): Layer.Layer<never> =>
  Layer.unwrapScoped(
    Effect.map(
      OtlpTracer.make({
        url: options.url,
        resource: { serviceName: options.serviceName ?? "effect-agents", attributes: { ...options.resourceAttributes } },
        headers: options.headers === undefined ? undefined : Redacted.value(options.headers),
        exportInterval: options.exportInterval,
        shutdownTimeout: options.shutdownTimeout
      }).pipe(Effect.withConfigProvider(noEnvironment)),
      (tracer) => Layer.setTracer(foldProviderSpans(plainErrors(tracer)))
    )
  ).pipe(Layer.provide(Layer.merge(reportingClient(options.url), serialization(options.protocol ?? "http/protobuf"))))

/**
 * Trace export as `AppConfig.tracing` says (`OTEL_EXPORTER_OTLP_ENDPOINT`, ...): `layerOtlp` when an
 * endpoint is set, `Layer.empty` otherwise.
 */
export const layer: Layer.Layer<never, never, AppConfig> = Layer.unwrapEffect(
  Effect.map(AppConfig, ({ tracing }) =>
    Option.match(tracing.url, {
      onNone: () => Layer.empty,
      onSome: (url) =>
        layerOtlp({
          url,
          protocol: tracing.protocol,
          headers: tracing.headers,
          serviceName: tracing.serviceName,
          resourceAttributes: tracing.resourceAttributes
        })
    })
  )
)
