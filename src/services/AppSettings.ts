/**
 * AppSettings — the table of environment variables behind `AppConfig`: each one's name, default,
 * expected form and Schema (string → typed value). `effect-agents config`, `.env.example` and the
 * decoding in `AppConfig.decodeSettings` all read this one table. Pure; re-exported by `AppConfig`.
 */
import { ParseResult, Schema } from "effect"
import { defaultServiceName, HttpUrl, OtlpHeaders, Protocol, ResourceAttributes } from "./OtlpSettings.js"

// ---------------------------------------------------------------------------------------------
// Value schemas (string → typed), shared by the settings table
// ---------------------------------------------------------------------------------------------

const BooleanFromEnv = Schema.transformOrFail(Schema.String, Schema.Boolean, {
  strict: true,
  decode: (s, _, ast) => {
    const v = s.trim().toLowerCase()
    if (["true", "1", "yes", "on"].includes(v)) return ParseResult.succeed(true)
    if (["false", "0", "no", "off"].includes(v)) return ParseResult.succeed(false)
    return ParseResult.fail(new ParseResult.Type(ast, s, "expected true or false"))
  },
  encode: (b) => ParseResult.succeed(b ? "true" : "false")
})

const Num = Schema.NumberFromString
const Int = Num.pipe(Schema.int())
const Port = Int.pipe(Schema.between(1, 65535))
const Rate = Num.pipe(Schema.between(0, 1))
const PositiveSeconds = Num.pipe(Schema.positive())
const NonNegativeSeconds = Num.pipe(Schema.nonNegative())
const NonNegativeInt = Int.pipe(Schema.nonNegative())
const PositiveInt = Int.pipe(Schema.positive())
const NonEmpty = Schema.Trim.pipe(Schema.nonEmptyString())

/** A case-insensitive choice among literals, read from a string. */
const oneOf = <const L extends ReadonlyArray<string>>(...literals: L) =>
  Schema.compose(Schema.transform(Schema.String, Schema.String, {
    strict: true,
    decode: (s) => s.trim().toLowerCase(),
    encode: (s) => s
  }), Schema.Literal(...literals), { strict: false }) as unknown as Schema.Schema<L[number], string>

export const ProviderName = oneOf("openrouter", "openai", "google", "simulated")
export type ProviderName = typeof ProviderName.Type

export const LogLevelName = Schema.transform(
  Schema.String,
  Schema.Literal("DEBUG", "INFO", "WARNING", "ERROR"),
  { strict: false, decode: (s) => s.trim().toUpperCase().replace(/^WARN$/, "WARNING"), encode: (s) => s }
)
export type LogLevelName = "DEBUG" | "INFO" | "WARNING" | "ERROR"

export const CacheBackend = oneOf("memory", "sqlite", "redis")
export type CacheBackend = typeof CacheBackend.Type

export const RateLimitBackend = oneOf("memory", "redis")
export type RateLimitBackend = typeof RateLimitBackend.Type

const CommaList = Schema.transform(Schema.String, Schema.Array(Schema.String), {
  strict: true,
  decode: (s) => s.split(",").map((x) => x.trim()).filter((x) => x.length > 0),
  encode: (xs) => xs.join(",")
})

const Url = Schema.Trim.pipe(
  Schema.filter((s) => URL.canParse(s), { message: () => "expected an absolute URL" })
)

// ---------------------------------------------------------------------------------------------
// The settings table
// ---------------------------------------------------------------------------------------------

/** One environment variable: its name, default, what it must look like and why it exists. */
export interface SettingSpec {
  readonly key: string
  /** Raw default; `undefined` means unset (optional) or derived from other settings. */
  readonly default?: string
  /** Human description of a valid value, used in error messages. */
  readonly expected: string
  readonly description: string
  readonly secret?: boolean
  readonly schema: Schema.Schema<unknown, string>
}

const spec = <A>(s: Omit<SettingSpec, "schema"> & { readonly schema: Schema.Schema<A, string> }): SettingSpec =>
  s as SettingSpec

/** Every setting, in the order `config` and `.env.example` show them. */
export const settings: ReadonlyArray<SettingSpec> = [
  spec({ key: "LLM_PROVIDER", expected: "openrouter | openai | google | simulated", description: "LLM provider; default: openrouter if OPENROUTER_API_KEY, else google if GOOGLE_API_KEY, else simulated", schema: ProviderName }),
  spec({ key: "OPENROUTER_API_KEY", expected: "a non-empty API key", description: "OpenRouter API key (secret)", secret: true, schema: NonEmpty }),
  spec({ key: "GOOGLE_API_KEY", expected: "a non-empty API key", description: "Google Gemini API key (secret)", secret: true, schema: NonEmpty }),
  spec({ key: "OPENAI_API_KEY", expected: "a non-empty API key", description: "API key for an OpenAI-compatible server (secret)", secret: true, schema: NonEmpty }),
  spec({ key: "LLM_BASE_URL", expected: "an absolute URL", description: "Base URL of the provider API, e.g. http://127.0.0.1:11434/v1 for Ollama", schema: Url }),
  spec({ key: "LLM_MODEL", expected: "a model id", description: "Model id; default depends on the provider", schema: NonEmpty }),
  spec({ key: "LLM_FALLBACK_MODELS", expected: "comma-separated model ids", description: "Models tried in order when the primary fails or its breaker is open", schema: CommaList }),
  spec({ key: "LLM_TIMEOUT", default: "60", expected: "a positive number of seconds", description: "Timeout per LLM attempt (seconds); for a streamed answer, until its first token", schema: PositiveSeconds }),
  spec({ key: "LLM_STREAM_IDLE_TIMEOUT", default: "30", expected: "a positive number of seconds", description: "Longest gap between the parts of a streamed answer once it has begun (seconds)", schema: PositiveSeconds }),
  spec({ key: "LOG_LEVEL", default: "INFO", expected: "DEBUG | INFO | WARNING | ERROR", description: "Minimum log level", schema: LogLevelName }),
  spec({ key: "LOG_FORMAT", expected: "pretty | json", description: "Log format; default pretty on a TTY, json otherwise", schema: oneOf("pretty", "json") }),
  spec({ key: "LOG_DIR", default: ".effect-agents/logs", expected: "a directory path", description: "Directory of daily log files effect-agents-YYYY-MM-DD.log (JSON lines)", schema: NonEmpty }),
  spec({ key: "ENABLE_METRICS_SERVER", default: "false", expected: "true or false", description: "Serve Prometheus metrics on /metrics", schema: BooleanFromEnv }),
  spec({ key: "METRICS_PORT", default: "8000", expected: "an integer port 1-65535", description: "Port of the metrics server", schema: Port }),
  spec({ key: "METRICS_HOST", default: "127.0.0.1", expected: "a host name or IP address", description: "Interface the metrics server binds", schema: NonEmpty }),
  spec({ key: "OTEL_EXPORTER_OTLP_ENDPOINT", expected: "an http(s) URL", description: "Export traces over OTLP/HTTP to this collector; spans go to <endpoint>/v1/traces (none: no export)", schema: HttpUrl }),
  spec({ key: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", expected: "an http(s) URL", description: "Export traces to exactly this URL (wins over OTEL_EXPORTER_OTLP_ENDPOINT)", schema: HttpUrl }),
  spec({ key: "OTEL_EXPORTER_OTLP_HEADERS", expected: "comma-separated name=value pairs, values %-encoded", description: "Headers sent with every trace export, e.g. x-honeycomb-team=KEY (secret)", secret: true, schema: OtlpHeaders }),
  spec({ key: "OTEL_EXPORTER_OTLP_TRACES_HEADERS", expected: "comma-separated name=value pairs, values %-encoded", description: "Headers of the trace export only, added to (and winning over) OTEL_EXPORTER_OTLP_HEADERS (secret)", secret: true, schema: OtlpHeaders }),
  spec({ key: "OTEL_EXPORTER_OTLP_PROTOCOL", default: "http/protobuf", expected: "http/protobuf | http/json", description: "Encoding of the trace export (gRPC is not supported)", schema: Protocol }),
  spec({ key: "OTEL_SERVICE_NAME", expected: "a service name", description: `service.name of the exported traces; default service.name of OTEL_RESOURCE_ATTRIBUTES, else ${defaultServiceName}`, schema: NonEmpty }),
  spec({ key: "OTEL_RESOURCE_ATTRIBUTES", expected: "comma-separated key=value pairs, values %-encoded", description: "Resource attributes of the exported traces, e.g. deployment.environment=prod", schema: ResourceAttributes }),
  spec({ key: "CACHE_ENABLED", default: "true", expected: "true or false", description: "Cache successful LLM responses", schema: BooleanFromEnv }),
  spec({ key: "CACHE_BACKEND", default: "sqlite", expected: "memory | sqlite | redis", description: "Where the LLM cache lives", schema: CacheBackend }),
  spec({ key: "CACHE_TTL", default: "3600", expected: "a positive number of seconds", description: "Time-to-live of a cache entry (seconds)", schema: PositiveSeconds }),
  spec({ key: "CACHE_SIZE_LIMIT", default: "1073741824", expected: "a positive integer (bytes)", description: "Maximum cache size in bytes (least recently used entries are evicted)", schema: PositiveInt }),
  spec({ key: "DATA_DIR", default: ".effect-agents", expected: "a directory path", description: "Directory of the SQLite cache and run history", schema: NonEmpty }),
  spec({ key: "RATE_LIMIT_ENABLED", default: "true", expected: "true or false", description: "Rate-limit LLM requests per provider and model", schema: BooleanFromEnv }),
  spec({ key: "RATE_LIMIT_MAX_CALLS", default: "60", expected: "a positive integer", description: "Requests allowed per period", schema: PositiveInt }),
  spec({ key: "RATE_LIMIT_PERIOD", default: "60", expected: "a positive number of seconds", description: "Rate-limit period (seconds)", schema: PositiveSeconds }),
  spec({ key: "RATE_LIMIT_MAX_TOKENS", expected: "a positive integer", description: "Tokens allowed per period, when set", schema: PositiveInt }),
  spec({ key: "RATE_LIMIT_BACKEND", default: "memory", expected: "memory | redis", description: "Where rate-limit state lives", schema: RateLimitBackend }),
  spec({ key: "REDIS_URL", expected: "a redis:// URL", description: "Redis for the redis backends (secret: may hold a password)", secret: true, schema: Url }),
  spec({ key: "DATABASE_URL", expected: "a sqlite: or postgres:// URL", description: "Run history database; default a SQLite file in DATA_DIR (secret: may hold a password)", secret: true, schema: NonEmpty }),
  spec({ key: "MAX_RETRIES", default: "3", expected: "an integer 0-100", description: "Retries after the first attempt", schema: NonNegativeInt.pipe(Schema.lessThanOrEqualTo(100)) }),
  spec({ key: "RETRY_INITIAL_WAIT", default: "1.0", expected: "a number of seconds, 0 or more", description: "First backoff delay (seconds), doubled each retry with full jitter; 0: retry at once", schema: NonNegativeSeconds }),
  spec({ key: "RETRY_MAX_WAIT", default: "60.0", expected: "a number of seconds, 0 or more", description: "Cap on a backoff delay (seconds); 0: retry at once", schema: NonNegativeSeconds }),
  spec({ key: "ENABLE_CIRCUIT_BREAKER", default: "true", expected: "true or false", description: "Open a circuit per provider+model after repeated failures", schema: BooleanFromEnv }),
  spec({ key: "CIRCUIT_BREAKER_FAILURE_THRESHOLD", default: "5", expected: "a positive integer", description: "Consecutive retryable failures that open the circuit", schema: PositiveInt }),
  spec({ key: "CIRCUIT_BREAKER_RESET_TIMEOUT", default: "30", expected: "a positive number of seconds", description: "Seconds an open circuit waits before one probe", schema: PositiveSeconds }),
  spec({ key: "PRICING_FILE", expected: "a JSON file path", description: "JSON file overriding the bundled model prices (USD per million tokens)", schema: NonEmpty }),
  spec({ key: "WORKFLOW_MAX_COST_USD", expected: "a positive number (USD)", description: "Budget per workflow run; exceeding it fails the run with BudgetExceeded", schema: Num.pipe(Schema.positive()) }),
  spec({ key: "WORKFLOWS_MODULE", expected: "a JavaScript module path", description: "ES module whose exported workflows the CLI and dashboard offer besides the built-in ones (like --workflows)", schema: NonEmpty }),
  spec({ key: "API_TOKEN", expected: "a secret of at least 16 characters", description: "Bearer token `serve` requires on every endpoint but /healthz and /readyz; required on a non-loopback host (secret)", secret: true, schema: NonEmpty.pipe(Schema.minLength(16)) }),
  spec({ key: "API_CORS_ORIGINS", expected: "comma-separated origins, or *", description: "Origins allowed to call the `serve` API from a browser; CORS is off when unset", schema: CommaList }),
  spec({ key: "SHUTDOWN_GRACE_SECONDS", default: "30", expected: "a number of seconds, 0 or more", description: "How long `serve` lets running workflows finish on SIGTERM before cancelling them", schema: NonNegativeSeconds }),
  spec({ key: "DURABLE_RUNS", default: "true", expected: "true or false", description: "`serve` runs workflows on the durable engine: a run whose process dies resumes on the next worker without repeating finished agent calls", schema: BooleanFromEnv }),
  spec({ key: "RUNNER_HOST", default: "127.0.0.1", expected: "a host name or IP address", description: "With PostgreSQL: the address other `serve` workers reach this one at (the engine's runner)", schema: NonEmpty }),
  spec({ key: "RUNNER_PORT", default: "34431", expected: "an integer port 1-65535", description: "With PostgreSQL: the port of this worker's runner, one per worker on a machine", schema: Port }),
  spec({ key: "SIM_SEED", default: "1", expected: "an integer", description: "Seed of the simulated provider", schema: Int }),
  spec({ key: "SIM_LATENCY_MS", default: "400", expected: "a non-negative integer (ms)", description: "Mean latency of the simulated provider (ms)", schema: NonNegativeInt }),
  spec({ key: "SIM_ERROR_RATE", default: "0.05", expected: "a number 0-1", description: "Share of simulated calls failing with 5xx or a timeout", schema: Rate }),
  spec({ key: "SIM_RATE_LIMIT_RATE", default: "0.05", expected: "a number 0-1", description: "Share of simulated calls answered 429 with Retry-After", schema: Rate })
]
