/**
 * AppConfig from the environment and a `.env` file.
 *
 * Values come through Effect's `ConfigProvider`s: the fiber's current provider (the process
 * environment by default; tests swap it with `ConfigProvider.fromMap`) wins over the `.env` file,
 * which is read with `@effect/platform`'s dotenv provider. The strings are then validated by
 * `AppConfig.decodeSettings`, which reports every bad key at once. The directories the settings
 * write to (`LOG_DIR`, `DATA_DIR`) must be usable too: one that cannot be created or written is an
 * `InvalidConfig` naming the variable, found here at startup rather than at the first write.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as PlatformConfigProvider from "@effect/platform/PlatformConfigProvider"
import { Config, ConfigProvider, Effect, Either, Layer, Option } from "effect"
import * as Directory from "../internal/directory.js"
import {
  AppConfig,
  ConfigProblem,
  decodeSettings,
  directoriesInUse,
  InvalidConfig,
  type LoadedConfig,
  type RawSetting,
  settings
} from "../services/AppConfig.js"

/** Where to look for settings besides the environment. */
export interface LoadOptions {
  /** Path of the dotenv file; `.env` in the working directory by default. */
  readonly dotenvPath?: string
  /** Whether stdout is a terminal; picks the default `LOG_FORMAT`. */
  readonly isTty?: boolean
  /**
   * The directories the settings write to: `"create"` them (what `layer` does before anything
   * runs), or only `"check"` that they could be, leaving nothing behind (the default, for
   * `effect-agents config`).
   */
  readonly directories?: "create" | "check"
}

const readKey = (provider: ConfigProvider.ConfigProvider, key: string) =>
  provider.load(Config.option(Config.string(key))).pipe(
    Effect.orElseSucceed(() => Option.none<string>())
  )

/** A dotenv provider for `path`, or an empty one when the file does not exist. */
const dotenvProvider = (path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const exists = yield* fs.exists(path).pipe(Effect.orElseSucceed(() => false))
    if (!exists) return ConfigProvider.fromMap(new Map())
    return yield* PlatformConfigProvider.fromDotEnv(path).pipe(
      // An unreadable .env is a configuration problem the user must see, not a silent default.
      Effect.mapError(() =>
        new InvalidConfig({
          problems: [{ key: path, expected: "a readable dotenv file", found: "an unreadable file", source: ".env" }]
        })
      )
    )
  })

/**
 * Reads every setting (env over `.env`) and validates it. Fails with `InvalidConfig` listing every
 * bad key.
 */
export const load = (options: LoadOptions = {}): Effect.Effect<LoadedConfig, InvalidConfig, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const env = yield* Effect.configProviderWith(Effect.succeed)
    const dotenv = yield* dotenvProvider(options.dotenvPath ?? ".env")
    const raw: Record<string, RawSetting> = {}
    for (const s of settings) {
      const fromEnv = yield* readKey(env, s.key)
      if (Option.isSome(fromEnv)) {
        raw[s.key] = { value: fromEnv.value, source: "env" }
        continue
      }
      const fromFile = yield* readKey(dotenv, s.key)
      if (Option.isSome(fromFile)) raw[s.key] = { value: fromFile.value, source: ".env" }
    }
    const decoded = decodeSettings(raw, { isTty: options.isTty ?? false })
    if (Either.isLeft(decoded)) return yield* decoded.left
    const problems = directoryProblems(decoded.right, options.directories ?? "check")
    if (problems.length > 0) return yield* new InvalidConfig({ problems })
    return decoded.right
  })

/**
 * One setting's raw value (environment over `.env`), for a command that needs nothing else of the
 * configuration and must not fail on the rest (`workflows` reads only `WORKFLOWS_MODULE`).
 */
export const loadSetting = (
  key: string,
  options: Pick<LoadOptions, "dotenvPath"> = {}
): Effect.Effect<Option.Option<string>, InvalidConfig, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const env = yield* Effect.configProviderWith(Effect.succeed)
    const fromEnv = yield* readKey(env, key)
    const raw = Option.isSome(fromEnv) ? fromEnv : yield* readKey(yield* dotenvProvider(options.dotenvPath ?? ".env"), key)
    // An empty variable counts as unset, as everywhere in the configuration.
    return Option.filter(Option.map(raw, (value) => value.trim()), (value) => value !== "")
  })

/** `LOG_DIR` is private to the user (log lines may quote prompts); `DATA_DIR` follows the umask. */
const modeOf = (key: string): number | undefined => key === "LOG_DIR" ? 0o700 : undefined

/** The directories in use that cannot be created or written, as problems keyed by their variable. */
const directoryProblems = (loaded: LoadedConfig, mode: "create" | "check"): ReadonlyArray<ConfigProblem> => {
  const problems: Array<ConfigProblem> = []
  for (const dir of directoriesInUse(loaded.config)) {
    try {
      // Once the start has failed, nothing more is created: the rest is only checked.
      if (mode === "create" && problems.length === 0) {
        const dirMode = modeOf(dir.key)
        Directory.ensure(dir.path, dirMode === undefined ? {} : { mode: dirMode })
      } else {
        Directory.check(dir.path)
      }
    } catch (error) {
      if (!(error instanceof Directory.UnusableDirectory)) throw error
      problems.push(new ConfigProblem({
        key: dir.key,
        expected: "a writable directory",
        found: JSON.stringify(dir.path),
        source: loaded.effective.find((s) => s.key === dir.key)?.source ?? "default",
        reason: error.reason
      }))
    }
  }
  return problems
}

/**
 * The `AppConfig` service, read from the environment and `.env`; the directories it writes to are
 * created (unless `options.directories` says `"check"`).
 */
export const layer = (options: LoadOptions = {}): Layer.Layer<AppConfig, InvalidConfig, FileSystem.FileSystem> =>
  Layer.effect(AppConfig, Effect.map(load({ directories: "create", ...options }), (loaded) => loaded.config))
