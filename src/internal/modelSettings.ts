/**
 * Applies an agent's model settings (temperature, max output tokens, top-p) to a provider call,
 * through each provider package's own config override, so the request on the wire carries them.
 */
import { Effect } from "effect"
import { GoogleLanguageModel } from "./googlePackage.js"
import { OpenRouterLanguageModel } from "./openRouterPackage.js"
import type { ProviderName } from "../services/AppConfig.js"
import type { ModelSettings } from "../services/WorkflowContext.js"

/** Runs `self` with `settings` applied for `provider`; unset settings keep the provider's defaults. */
export const applySettings = (provider: ProviderName, settings: ModelSettings | undefined) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  if (settings === undefined) return self
  const { maxOutputTokens, temperature, topP } = settings
  switch (provider) {
    case "openrouter":
    case "openai":
      return OpenRouterLanguageModel.withConfigOverride(self, {
        ...(temperature === undefined ? {} : { temperature }),
        ...(maxOutputTokens === undefined ? {} : { max_tokens: maxOutputTokens }),
        ...(topP === undefined ? {} : { top_p: topP })
      })
    case "google":
      // The Gemini package has no override helper; its model reads this Config per request.
      return Effect.provideService(self, GoogleLanguageModel.Config, {
        toolConfig: {},
        generationConfig: {
          ...(temperature === undefined ? {} : { temperature }),
          ...(maxOutputTokens === undefined ? {} : { maxOutputTokens }),
          ...(topP === undefined ? {} : { topP })
        }
      })
    case "simulated":
      return self
  }
}
