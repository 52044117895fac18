/**
 * AppConfig — the typed settings of effect-agents.
 *
 * Every environment variable the README documents is described once in `settings` (name, default, expected
 * form, Schema). `decodeSettings` turns raw strings into `AppConfigShape`, reporting every bad key at
 * once. Reading the environment and `.env` happens in `layers/AppConfigEnv.ts`; this module is pure.
 */
import { Context, Duration, Either, Option, ParseResult, Redacted, Schema } from "effect"

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
  spec({ key: "LLM_TIMEOUT", default: "60", expected: "a positive number of seconds", description: "Timeout per LLM attempt (seconds)", schema: PositiveSeconds }),
  spec({ key: "LOG_LEVEL", default: "INFO", expected: "DEBUG | INFO | WARNING | ERROR", description: "Minimum log level", schema: LogLevelName }),
  spec({ key: "LOG_FORMAT", expected: "pretty | json", description: "Log format; default pretty on a TTY, json otherwise", schema: oneOf("pretty", "json") }),
  spec({ key: "LOG_DIR", default: ".effect-agents/logs", expected: "a directory path", description: "Directory of daily log files effect-agents-YYYY-MM-DD.log (JSON lines)", schema: NonEmpty }),
  spec({ key: "ENABLE_METRICS_SERVER", default: "false", expected: "true or false", description: "Serve Prometheus metrics on /metrics", schema: BooleanFromEnv }),
  spec({ key: "METRICS_PORT", default: "8000", expected: "an integer port 1-65535", description: "Port of the metrics server", schema: Port }),
  spec({ key: "METRICS_HOST", default: "127.0.0.1", expected: "a host name or IP address", description: "Interface the metrics server binds", schema: NonEmpty }),
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
  spec({ key: "SIM_SEED", default: "1", expected: "an integer", description: "Seed of the simulated provider", schema: Int }),
  spec({ key: "SIM_LATENCY_MS", default: "400", expected: "a non-negative integer (ms)", description: "Mean latency of the simulated provider (ms)", schema: NonNegativeInt }),
  spec({ key: "SIM_ERROR_RATE", default: "0.05", expected: "a number 0-1", description: "Share of simulated calls failing with 5xx or a timeout", schema: Rate }),
  spec({ key: "SIM_RATE_LIMIT_RATE", default: "0.05", expected: "a number 0-1", description: "Share of simulated calls answered 429 with Retry-After", schema: Rate })
]

// ---------------------------------------------------------------------------------------------
// The typed configuration
// ---------------------------------------------------------------------------------------------

/** The validated configuration every Layer is built from. */
export interface AppConfigShape {
  readonly llm: {
    readonly provider: ProviderName
    readonly openrouterApiKey: Option.Option<Redacted.Redacted<string>>
    readonly googleApiKey: Option.Option<Redacted.Redacted<string>>
    readonly openaiApiKey: Option.Option<Redacted.Redacted<string>>
    readonly baseUrl: Option.Option<string>
    readonly model: string
    readonly fallbackModels: ReadonlyArray<string>
    readonly timeout: Duration.Duration
  }
  readonly log: {
    readonly level: LogLevelName
    readonly format: "pretty" | "json"
    readonly dir: string
  }
  readonly metrics: {
    readonly enabled: boolean
    readonly port: number
    readonly host: string
  }
  readonly cache: {
    readonly enabled: boolean
    readonly backend: CacheBackend
    readonly ttl: Duration.Duration
    readonly sizeLimitBytes: number
  }
  readonly dataDir: string
  readonly rateLimit: {
    readonly enabled: boolean
    readonly maxCalls: number
    readonly period: Duration.Duration
    readonly maxTokens: Option.Option<number>
    readonly backend: RateLimitBackend
  }
  readonly redisUrl: Option.Option<Redacted.Redacted<string>>
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
  readonly retry: {
    readonly maxRetries: number
    readonly initialWait: Duration.Duration
    readonly maxWait: Duration.Duration
  }
  readonly circuitBreaker: {
    readonly enabled: boolean
    readonly failureThreshold: number
    readonly resetTimeout: Duration.Duration
  }
  readonly pricingFile: Option.Option<string>
  readonly workflowMaxCostUsd: Option.Option<number>
  readonly simulated: {
    readonly seed: number
    readonly latencyMs: number
    readonly errorRate: number
    readonly rateLimitRate: number
  }
}

/** The service tag: `yield* AppConfig` gives the validated configuration. */
export class AppConfig extends Context.Tag("effect-agents/AppConfig")<AppConfig, AppConfigShape>() {}

/** Where a setting's value came from, shown by `effect-agents config`. */
export type SettingSource = "env" | ".env" | "default" | "derived" | "unset"

/** A raw value and its origin, as read by the configuration layer. */
export interface RawSetting {
  readonly value: string
  readonly source: "env" | ".env"
}

/**
 * One bad key: what was expected and what was found (secrets shown as `<redacted>`), and `reason`
 * when the value has the right form but does not work (a directory that cannot be created).
 */
export class ConfigProblem extends Schema.Class<ConfigProblem>("ConfigProblem")({
  key: Schema.String,
  expected: Schema.String,
  found: Schema.String,
  source: Schema.String,
  reason: Schema.optional(Schema.String)
}) {}

const problemLine = (p: ConfigProblem): string =>
  `${p.key}: expected ${p.expected}, found ${p.found} (from ${p.source})${p.reason === undefined ? "" : `: ${p.reason}`}`

/** The configuration is invalid; `problems` lists every bad key, not just the first. */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  problems: Schema.Array(ConfigProblem)
}) {
  override get message(): string {
    // One problem fits on one line; several are listed one per line.
    if (this.problems.length === 1) return `Invalid configuration: ${problemLine(this.problems[0]!)}`
    return `Invalid configuration (${this.problems.length} problems):\n` +
      this.problems.map((p) => `  ${problemLine(p)}`).join("\n")
  }
}

/** A directory the configuration writes to, with the variable that names it. */
export interface DirectoryInUse {
  readonly key: "DATA_DIR" | "LOG_DIR"
  readonly path: string
}

/**
 * The directories this configuration writes to: `DATA_DIR` when the SQLite cache or the default
 * SQLite history lives there (`DATABASE_URL` unset or `sqlite:` without a path, as
 * `RunHistoryFromConfig` reads it), then `LOG_DIR`, which always holds the log files.
 */
export const directoriesInUse = (config: AppConfigShape): ReadonlyArray<DirectoryInUse> => {
  const sqliteCache = config.cache.enabled && config.cache.backend === "sqlite"
  const historyUrl = Option.map(config.databaseUrl, (url) => Redacted.value(url).trim().toLowerCase())
  const sqliteHistory = Option.isNone(historyUrl) || historyUrl.value === "sqlite:" || historyUrl.value === "sqlite://"
  return [
    ...(sqliteCache || sqliteHistory ? [{ key: "DATA_DIR" as const, path: config.dataDir }] : []),
    { key: "LOG_DIR", path: config.log.dir }
  ]
}

/** One row of the effective configuration as `effect-agents config` prints it. */
export interface EffectiveSetting {
  readonly key: string
  /** Display value; secrets are `<redacted>`, unset values are empty. */
  readonly value: string
  readonly source: SettingSource
}

/** A decoded configuration with the provenance of each value. */
export interface LoadedConfig {
  readonly config: AppConfigShape
  readonly effective: ReadonlyArray<EffectiveSetting>
}

/** Default models per provider, used when `LLM_MODEL` is not set. */
export const defaultModels: Record<ProviderName, string> = {
  openrouter: "openai/gpt-4o-mini",
  openai: "gpt-4o-mini",
  google: "gemini-2.0-flash",
  simulated: "simulated-1"
}

export const REDACTED_TEXT = "<redacted>"

const showFound = (spec: SettingSpec, raw: RawSetting | undefined): string =>
  raw === undefined ? "nothing" : spec.secret ? REDACTED_TEXT : JSON.stringify(raw.value)

/**
 * Decodes raw settings into the typed configuration. `raw` maps a variable name to its value and
 * origin (env wins over .env is decided by the caller). `isTty` picks the default log format.
 * Every invalid key is reported in one `InvalidConfig`.
 */
export const decodeSettings = (
  raw: Readonly<Record<string, RawSetting | undefined>>,
  options: { readonly isTty: boolean }
): Either.Either<LoadedConfig, InvalidConfig> => {
  const problems: Array<ConfigProblem> = []
  const values = new Map<string, unknown>()
  const effective = new Map<string, EffectiveSetting>()

  for (const s of settings) {
    const given = raw[s.key]
    // An empty variable means "unset", as in most dotenv tooling.
    const input = given !== undefined && given.value.trim() !== "" ? given : undefined
    const text = input?.value ?? s.default
    if (text === undefined) {
      effective.set(s.key, { key: s.key, value: "", source: "unset" })
      continue
    }
    const decoded = Schema.decodeUnknownEither(s.schema)(text)
    if (Either.isLeft(decoded)) {
      problems.push(new ConfigProblem({
        key: s.key,
        expected: s.expected,
        found: showFound(s, input ?? { value: text, source: "env" }),
        source: input?.source ?? "default"
      }))
      continue
    }
    values.set(s.key, decoded.right)
    effective.set(s.key, {
      key: s.key,
      value: s.secret ? REDACTED_TEXT : text,
      source: input?.source ?? "default"
    })
  }

  const opt = <A>(key: string): Option.Option<A> => Option.fromNullable(values.get(key) as A | undefined)
  const get = <A>(key: string): A => values.get(key) as A
  const secret = (key: string) => opt<string>(key).pipe(Option.map(Redacted.make))

  // Derived defaults and cross-field rules.
  const explicitProvider = opt<ProviderName>("LLM_PROVIDER")
  const provider: ProviderName = Option.getOrElse(explicitProvider, () =>
    values.has("OPENROUTER_API_KEY") ? "openrouter" : values.has("GOOGLE_API_KEY") ? "google" : "simulated"
  )
  if (Option.isNone(explicitProvider) && !problems.some((p) => p.key === "LLM_PROVIDER")) {
    effective.set("LLM_PROVIDER", { key: "LLM_PROVIDER", value: provider, source: "derived" })
  }
  const requiredKey: Partial<Record<ProviderName, string>> = {
    openrouter: "OPENROUTER_API_KEY",
    google: "GOOGLE_API_KEY",
    // An OpenAI-compatible local server (Ollama, vLLM) needs no key once LLM_BASE_URL points at it.
    ...(values.has("LLM_BASE_URL") ? {} : { openai: "OPENAI_API_KEY" })
  }
  const needed = requiredKey[provider]
  if (needed !== undefined && !values.has(needed) && !problems.some((p) => p.key === needed)) {
    problems.push(new ConfigProblem({
      key: needed,
      expected: `an API key (LLM_PROVIDER=${provider} needs it)`,
      found: "nothing",
      source: "unset"
    }))
  }
  if (!values.has("LLM_MODEL")) {
    effective.set("LLM_MODEL", { key: "LLM_MODEL", value: defaultModels[provider], source: "derived" })
  }
  if (!values.has("LOG_FORMAT")) {
    effective.set("LOG_FORMAT", { key: "LOG_FORMAT", value: options.isTty ? "pretty" : "json", source: "derived" })
  }
  const redisNeeded = [
    values.get("CACHE_ENABLED") === true && values.get("CACHE_BACKEND") === "redis" ? "CACHE_BACKEND=redis" : undefined,
    values.get("RATE_LIMIT_ENABLED") === true && values.get("RATE_LIMIT_BACKEND") === "redis" ? "RATE_LIMIT_BACKEND=redis" : undefined
  ].filter((x) => x !== undefined)
  if (redisNeeded.length > 0 && !values.has("REDIS_URL") && !problems.some((p) => p.key === "REDIS_URL")) {
    problems.push(new ConfigProblem({
      key: "REDIS_URL",
      expected: `a redis:// URL (${redisNeeded.join(" and ")} needs it)`,
      found: "nothing",
      source: "unset"
    }))
  }
  // A cap of 0 means no backoff at all, whatever the initial wait.
  if (values.has("RETRY_INITIAL_WAIT") && values.has("RETRY_MAX_WAIT") && get<number>("RETRY_MAX_WAIT") > 0 &&
    get<number>("RETRY_INITIAL_WAIT") > get<number>("RETRY_MAX_WAIT")) {
    problems.push(new ConfigProblem({
      key: "RETRY_MAX_WAIT",
      expected: "0 or a number of seconds not below RETRY_INITIAL_WAIT",
      found: JSON.stringify(raw["RETRY_MAX_WAIT"]?.value ?? "60.0"),
      source: raw["RETRY_MAX_WAIT"]?.source ?? "default"
    }))
  }

  if (problems.length > 0) return Either.left(new InvalidConfig({ problems }))

  const seconds = (key: string) => Duration.seconds(get<number>(key))
  const config: AppConfigShape = {
    llm: {
      provider,
      openrouterApiKey: secret("OPENROUTER_API_KEY"),
      googleApiKey: secret("GOOGLE_API_KEY"),
      openaiApiKey: secret("OPENAI_API_KEY"),
      baseUrl: opt<string>("LLM_BASE_URL"),
      model: Option.getOrElse(opt<string>("LLM_MODEL"), () => defaultModels[provider]),
      fallbackModels: Option.getOrElse(opt<ReadonlyArray<string>>("LLM_FALLBACK_MODELS"), () => []),
      timeout: seconds("LLM_TIMEOUT")
    },
    log: {
      level: get("LOG_LEVEL"),
      format: Option.getOrElse(opt<"pretty" | "json">("LOG_FORMAT"), () => (options.isTty ? "pretty" : "json")),
      dir: get("LOG_DIR")
    },
    metrics: { enabled: get("ENABLE_METRICS_SERVER"), port: get("METRICS_PORT"), host: get("METRICS_HOST") },
    cache: {
      enabled: get("CACHE_ENABLED"),
      backend: get("CACHE_BACKEND"),
      ttl: seconds("CACHE_TTL"),
      sizeLimitBytes: get("CACHE_SIZE_LIMIT")
    },
    dataDir: get("DATA_DIR"),
    rateLimit: {
      enabled: get("RATE_LIMIT_ENABLED"),
      maxCalls: get("RATE_LIMIT_MAX_CALLS"),
      period: seconds("RATE_LIMIT_PERIOD"),
      maxTokens: opt<number>("RATE_LIMIT_MAX_TOKENS"),
      backend: get("RATE_LIMIT_BACKEND")
    },
    redisUrl: secret("REDIS_URL"),
    databaseUrl: secret("DATABASE_URL"),
    retry: {
      maxRetries: get("MAX_RETRIES"),
      initialWait: seconds("RETRY_INITIAL_WAIT"),
      maxWait: seconds("RETRY_MAX_WAIT")
    },
    circuitBreaker: {
      enabled: get("ENABLE_CIRCUIT_BREAKER"),
      failureThreshold: get("CIRCUIT_BREAKER_FAILURE_THRESHOLD"),
      resetTimeout: seconds("CIRCUIT_BREAKER_RESET_TIMEOUT")
    },
    pricingFile: opt<string>("PRICING_FILE"),
    workflowMaxCostUsd: opt<number>("WORKFLOW_MAX_COST_USD"),
    simulated: {
      seed: get("SIM_SEED"),
      latencyMs: get("SIM_LATENCY_MS"),
      errorRate: get("SIM_ERROR_RATE"),
      rateLimitRate: get("SIM_RATE_LIMIT_RATE")
    }
  }
  return Either.right({ config, effective: settings.map((s) => effective.get(s.key)!) })
}
