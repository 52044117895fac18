/**
 * OtlpSettings — the standard `OTEL_*` variables of trace export, as `AppSettings` reads them.
 *
 * The formats are OpenTelemetry's: `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_RESOURCE_ATTRIBUTES` are
 * comma-separated `key=value` pairs whose values are percent-encoded; an `OTEL_EXPORTER_OTLP_ENDPOINT`
 * is a base URL the signal's path (`/v1/traces`) is appended to, while
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as is. Unlike SDKs that drop a malformed value with
 * a warning, a malformed value here is a configuration error, reported with the others. Pure.
 */
import { Either, Option, ParseResult, Redacted, Schema } from "effect"

/** The OTLP/HTTP encodings the exporter speaks; gRPC is not supported. */
export type OtlpProtocol = "http/protobuf" | "http/json"

/** What trace export is set to: `AppConfig.tracing`. */
export interface TracingSettings {
  /** Where spans are POSTed; none when no endpoint is set: nothing is exported (the default). */
  readonly url: Option.Option<string>
  readonly protocol: OtlpProtocol
  /** Sent with every export; may hold an API key (Honeycomb, Sentry, Grafana Cloud). */
  readonly headers: Redacted.Redacted<Readonly<Record<string, string>>>
  /** `service.name` of the exported resource. */
  readonly serviceName: string
  /** Further resource attributes (`deployment.environment`, `service.version`, ...). */
  readonly resourceAttributes: Readonly<Record<string, string>>
}

/** The `service.name` when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` gives one. */
export const defaultServiceName = "effect-agents"

/** The path of the traces signal under an `OTEL_EXPORTER_OTLP_ENDPOINT`. */
export const tracesPath = "/v1/traces"

/** The traces URL under a base endpoint: its path keeps, `/v1/traces` is appended once. */
export const tracesUrlOf = (endpoint: string): string => `${endpoint.replace(/\/+$/, "")}${tracesPath}`

/** `base` with `over`'s headers added, replacing those of the same name in any case. */
const mergeHeaders = (
  base: Readonly<Record<string, string>>,
  over: Readonly<Record<string, string>>
): Readonly<Record<string, string>> => {
  const names = new Set(Object.keys(over).map((name) => name.toLowerCase()))
  return { ...Object.fromEntries(Object.entries(base).filter(([name]) => !names.has(name.toLowerCase()))), ...over }
}

/** The decoded `OTEL_*` values, each absent when unset. */
export interface OtlpValues {
  readonly endpoint: Option.Option<string>
  readonly tracesEndpoint: Option.Option<string>
  readonly headers: Option.Option<Readonly<Record<string, string>>>
  readonly tracesHeaders: Option.Option<Readonly<Record<string, string>>>
  readonly protocol: OtlpProtocol
  readonly serviceName: Option.Option<string>
  readonly resourceAttributes: Option.Option<Readonly<Record<string, string>>>
}

/**
 * The settings the values make: the traces endpoint wins over the base one, the traces headers over
 * the common ones (name by name, case-insensitively), and `OTEL_SERVICE_NAME` over a `service.name`
 * among the resource attributes, as the OpenTelemetry SDKs read them.
 */
export const tracingSettings = (values: OtlpValues): TracingSettings => {
  const resourceAttributes: Readonly<Record<string, string>> = Option.getOrElse(values.resourceAttributes, () => ({}))
  return {
    url: Option.orElse(values.tracesEndpoint, () => Option.map(values.endpoint, tracesUrlOf)),
    protocol: values.protocol,
    headers: Redacted.make(mergeHeaders(Option.getOrElse(values.headers, () => ({})), Option.getOrElse(values.tracesHeaders, () => ({})))),
    serviceName: Option.getOrElse(values.serviceName, () => resourceAttributes["service.name"] ?? defaultServiceName),
    resourceAttributes
  }
}

/** An absolute `http:` or `https:` URL. */
export const HttpUrl = Schema.Trim.pipe(
  Schema.filter((s) => URL.canParse(s) && ["http:", "https:"].includes(new URL(s).protocol), {
    message: () => "expected an http(s) URL"
  })
)

/** `http/protobuf` (the OpenTelemetry default) or `http/json`; anything else, gRPC included, is refused. */
export const Protocol = Schema.transform(Schema.String, Schema.Literal("http/protobuf", "http/json"), {
  strict: false,
  decode: (s) => s.trim().toLowerCase(),
  encode: (s) => s
})

// RFC 9110 token characters: what a header name may be made of.
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
// A header value may not break the request line (CR, LF) or hold NUL.
const headerValue = /^[^\r\n\0]*$/

/**
 * `key=value` pairs separated by commas, each value percent-decoded; empty entries are skipped.
 * Fails with why, naming the entry by its position only (a header value may be a secret).
 */
export const parsePairs = (
  text: string,
  check: { readonly key?: RegExp; readonly value?: RegExp } = {}
): Either.Either<Record<string, string>, string> => {
  const pairs: Record<string, string> = {}
  const entries = text.split(",")
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!.trim()
    if (entry === "") continue
    const at = entry.indexOf("=")
    const key = at < 0 ? "" : entry.slice(0, at).trim()
    if (at < 0 || key === "") return Either.left(`entry ${i + 1} is not key=value`)
    if (check.key !== undefined && !check.key.test(key)) return Either.left(`entry ${i + 1} has a key that is not a header name`)
    let value: string
    try {
      value = decodeURIComponent(entry.slice(at + 1).trim())
    } catch {
      return Either.left(`entry ${i + 1} has a malformed %-escape`)
    }
    if (check.value !== undefined && !check.value.test(value)) return Either.left(`entry ${i + 1} has a line break in its value`)
    pairs[key] = value
  }
  return Either.right(pairs)
}

const Pairs = Schema.Record({ key: Schema.String, value: Schema.String })

const pairsSchema = (check: Parameters<typeof parsePairs>[1]) =>
  Schema.transformOrFail(Schema.String, Pairs, {
    strict: true,
    decode: (s, _, ast) =>
      Either.match(parsePairs(s, check), {
        onLeft: (reason) => ParseResult.fail(new ParseResult.Type(ast, s, reason)),
        onRight: ParseResult.succeed
      }),
    encode: (pairs) =>
      ParseResult.succeed(Object.entries(pairs).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join(","))
  })

/** `OTEL_EXPORTER_OTLP_HEADERS`: header names and percent-encoded values. */
export const OtlpHeaders = pairsSchema({ key: headerName, value: headerValue })

/** `OTEL_RESOURCE_ATTRIBUTES`: attribute keys and percent-encoded values. */
export const ResourceAttributes = pairsSchema({})
