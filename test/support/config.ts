/**
 * Test helpers for configuration: an `AppConfig` built through the real decoder from a few
 * variables, so tests exercise the same defaults and validation as the CLI.
 */
import { Either, Layer } from "effect"
import { AppConfig, type AppConfigShape, decodeSettings, type RawSetting } from "../../src/services/AppConfig.js"

/** The configuration the CLI would build from exactly these environment variables. */
export const testConfig = (env: Readonly<Record<string, string>> = {}): AppConfigShape => {
  const raw: Record<string, RawSetting> = {}
  for (const [key, value] of Object.entries(env)) raw[key] = { value, source: "env" }
  const decoded = decodeSettings(raw, { isTty: false })
  if (Either.isLeft(decoded)) throw new Error(decoded.left.message)
  return decoded.right.config
}

/** A Layer providing `AppConfig` from these variables (see `testConfig`). */
export const testConfigLayer = (env: Readonly<Record<string, string>> = {}): Layer.Layer<AppConfig> =>
  Layer.succeed(AppConfig, testConfig(env))
