/**
 * AppConfig from the environment and a `.env` file.
 *
 * Values come through Effect's `ConfigProvider`s: the fiber's current provider (the process
 * environment by default; tests swap it with `ConfigProvider.fromMap`) wins over the `.env` file,
 * which is read with `@effect/platform`'s dotenv provider. The strings are then validated by
 * `AppConfig.decodeSettings`, which reports every bad key at once.
 */
import { FileSystem } from "@effect/platform"
import * as PlatformConfigProvider from "@effect/platform/PlatformConfigProvider"
import { Config, ConfigProvider, Effect, Either, Layer, Option } from "effect"
import {
  AppConfig,
  decodeSettings,
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
    return yield* Either.isRight(decoded) ? Effect.succeed(decoded.right) : Effect.fail(decoded.left)
  })

/** The `AppConfig` service, read from the environment and `.env`. */
export const layer = (options: LoadOptions = {}): Layer.Layer<AppConfig, InvalidConfig, FileSystem.FileSystem> =>
  Layer.effect(AppConfig, Effect.map(load(options), (loaded) => loaded.config))
