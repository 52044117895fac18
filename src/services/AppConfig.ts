/**
 * AppConfig — the typed settings of effect-agents.
 *
 * Every environment variable the README documents is described once in `settings` (name, default,
 * expected form, Schema; the table lives in `AppSettings.ts` and is re-exported here).
 * `decodeSettings` (`AppConfigDecode.ts`, re-exported here) turns raw strings into
 * `AppConfigShape`, reporting every bad key at once. Reading the environment and `.env` happens in
 * `layers/AppConfigEnv.ts`; this module is pure.
 */
import { Context, type Duration, Option, Redacted } from "effect"
import type { CacheBackend, LogLevelName, ProviderName, RateLimitBackend } from "./AppSettings.js"
import type { TracingSettings } from "./OtlpSettings.js"

export {
  ConfigProblem,
  decodeSettings,
  defaultModels,
  type EffectiveSetting,
  InvalidConfig,
  type LoadedConfig,
  type RawSetting,
  REDACTED_TEXT,
  type SettingSource
} from "./AppConfigDecode.js"
export type { OtlpProtocol, TracingSettings } from "./OtlpSettings.js"
export {
  CacheBackend,
  LogLevelName,
  ProviderName,
  RateLimitBackend,
  type SettingSpec,
  settings
} from "./AppSettings.js"

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
    /** Longest gap between the parts of a streamed answer once it has begun. */
    readonly streamIdleTimeout: Duration.Duration
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
  /** OTLP trace export (`OTEL_*`); spans are exported only when `url` is set. */
  readonly tracing: TracingSettings
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
  /** A module of the user's own workflows for the CLI (`WORKFLOWS_MODULE`), relative to the working directory. */
  readonly workflowsModule: Option.Option<string>
  /** The `serve` API. */
  readonly api: {
    readonly token: Option.Option<Redacted.Redacted<string>>
    readonly corsOrigins: ReadonlyArray<string>
    readonly shutdownGrace: Duration.Duration
  }
  /** Durable runs of `serve` (`DURABLE_RUNS`) and, with PostgreSQL, this worker's runner address. */
  readonly durable: {
    readonly enabled: boolean
    readonly runnerHost: string
    readonly runnerPort: number
  }
  readonly simulated: {
    readonly seed: number
    readonly latencyMs: number
    readonly errorRate: number
    readonly rateLimitRate: number
  }
}

/** The service tag: `yield* AppConfig` gives the validated configuration. */
export class AppConfig extends Context.Tag("effect-agents/AppConfig")<AppConfig, AppConfigShape>() {}

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
