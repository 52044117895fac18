/**
 * Demo-only defaults: with no key the dashboard runs its demo on the simulated provider, and the
 * usual defaults would show nothing but quick successes. These settings make the demo show what
 * the library does (limiter waits, retries, timeouts, fallbacks) — each applied only when the user
 * set neither the variable nor, for a pair that must agree, its partner, in the environment or
 * `.env`. `run` and `batch` never use them.
 */
import { ConfigProvider, Effect } from "effect"
import * as AppConfigEnv from "../layers/AppConfigEnv.js"
import type { EffectiveSetting, ProviderName } from "../services/AppConfig.js"

/**
 * The demo's settings, in groups applied together (a group is left out entirely when the user set
 * any of its variables, so e.g. `RETRY_INITIAL_WAIT <= RETRY_MAX_WAIT` still holds).
 */
export const demoSettingGroups: ReadonlyArray<Readonly<Record<string, string>>> = [
  // More faults than the library's defaults, so retries and fallbacks happen every few seconds.
  { SIM_ERROR_RATE: "0.12" },
  { SIM_RATE_LIMIT_RATE: "0.08" },
  // A hang ends in a timeout after seconds, not a minute.
  { LLM_TIMEOUT: "4" },
  // Fewer retries and short waits: a call that keeps failing moves on to the fallback model soon.
  { MAX_RETRIES: "1" },
  { RETRY_INITIAL_WAIT: "0.3", RETRY_MAX_WAIT: "3" },
  { LLM_FALLBACK_MODELS: "simulated-fallback" },
  // A modest rate: the demo's runs ask for more, so some wait for a permit.
  { RATE_LIMIT_MAX_CALLS: "6", RATE_LIMIT_PERIOD: "1" }
]

const setByUser = (setting: EffectiveSetting | undefined): boolean =>
  setting !== undefined && (setting.source === "env" || setting.source === ".env")

/**
 * The demo settings to add to a configuration: none unless the provider is simulated, and none of
 * a group any variable of which the user set.
 */
export const demoOverrides = (
  provider: ProviderName,
  effective: ReadonlyArray<EffectiveSetting>
): ReadonlyMap<string, string> => {
  const out = new Map<string, string>()
  if (provider !== "simulated") return out
  const byKey = new Map(effective.map((s) => [s.key, s]))
  for (const group of demoSettingGroups) {
    if (Object.keys(group).some((key) => setByUser(byKey.get(key)))) continue
    for (const [key, value] of Object.entries(group)) out.set(key, value)
  }
  return out
}

/**
 * Runs `self` with the demo defaults under the user's settings: the configuration is read once to
 * see what the user set; an invalid one adds nothing (the real load reports it).
 */
export const withDemoDefaults = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const loaded = yield* Effect.option(AppConfigEnv.load({ directories: "check" }))
    if (loaded._tag === "None") return yield* self
    const overrides = demoOverrides(loaded.value.config.llm.provider, loaded.value.effective)
    if (overrides.size === 0) return yield* self
    const user = yield* Effect.configProviderWith(Effect.succeed)
    return yield* Effect.withConfigProvider(self, ConfigProvider.orElse(ConfigProvider.fromMap(new Map(overrides)), () => user))
  })
