/**
 * AppConfigDecode — raw settings (the environment and `.env`, read by `layers/AppConfigEnv.ts`)
 * into the typed configuration of `AppConfig`: each value's provenance for `effect-agents config`,
 * every bad key reported at once, the defaults derived from other settings. Pure.
 */
import { Duration, Either, Option, Redacted, Schema } from "effect"
import type { AppConfigShape } from "./AppConfig.js"
import { type ProviderName, type SettingSpec, settings } from "./AppSettings.js"
import { type OtlpProtocol, tracingSettings } from "./OtlpSettings.js"

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

  const tracing = tracingSettings({
    endpoint: opt("OTEL_EXPORTER_OTLP_ENDPOINT"),
    tracesEndpoint: opt("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    headers: opt("OTEL_EXPORTER_OTLP_HEADERS"),
    tracesHeaders: opt("OTEL_EXPORTER_OTLP_TRACES_HEADERS"),
    protocol: get<OtlpProtocol>("OTEL_EXPORTER_OTLP_PROTOCOL"),
    serviceName: opt("OTEL_SERVICE_NAME"),
    resourceAttributes: opt("OTEL_RESOURCE_ATTRIBUTES")
  })
  const derive = (key: string, value: string, source: SettingSource = "derived") => {
    if (!values.has(key)) effective.set(key, { key, value, source })
  }
  if (Option.isSome(tracing.url)) derive("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", tracing.url.value)
  derive("OTEL_SERVICE_NAME", tracing.serviceName, "service.name" in tracing.resourceAttributes ? "derived" : "default")

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
      timeout: seconds("LLM_TIMEOUT"),
      streamIdleTimeout: seconds("LLM_STREAM_IDLE_TIMEOUT")
    },
    log: {
      level: get("LOG_LEVEL"),
      format: Option.getOrElse(opt<"pretty" | "json">("LOG_FORMAT"), () => (options.isTty ? "pretty" : "json")),
      dir: get("LOG_DIR")
    },
    metrics: { enabled: get("ENABLE_METRICS_SERVER"), port: get("METRICS_PORT"), host: get("METRICS_HOST") },
    tracing,
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
    workflowsModule: opt<string>("WORKFLOWS_MODULE"),
    api: {
      token: secret("API_TOKEN"),
      corsOrigins: Option.getOrElse(opt<ReadonlyArray<string>>("API_CORS_ORIGINS"), () => []),
      shutdownGrace: seconds("SHUTDOWN_GRACE_SECONDS")
    },
    durable: { enabled: get("DURABLE_RUNS"), runnerHost: get("RUNNER_HOST"), runnerPort: get("RUNNER_PORT") },
    simulated: {
      seed: get("SIM_SEED"),
      latencyMs: get("SIM_LATENCY_MS"),
      errorRate: get("SIM_ERROR_RATE"),
      rateLimitRate: get("SIM_RATE_LIMIT_RATE")
    }
  }
  return Either.right({ config, effective: settings.map((s) => effective.get(s.key)!) })
}
