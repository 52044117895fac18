/**
 * LlmProvider — picks the `LanguageModel` adapter named by `LLM_PROVIDER`: OpenRouter, an
 * OpenAI-compatible server, Gemini, or the in-process simulation.
 *
 * `makeModel(config, model)` builds the same provider for another model id, which is how fallback
 * models (`LLM_FALLBACK_MODELS`) get their own `LanguageModel`. The HTTP client given to the
 * provider packages is undici through `@effect/platform-node` (faster than fetch here, see the README's performance section);
 * the chat-completions adapter sends its plain calls on its own undici pool (see `LlmOpenRouter`).
 */
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Layer, type Scope } from "effect"
import { AppConfig, type AppConfigShape } from "../services/AppConfig.js"
import * as LlmGoogle from "./LlmGoogle.js"
import * as LlmOpenRouter from "./LlmOpenRouter.js"
import * as LlmSimulated from "./LlmSimulated.js"

/**
 * The provider name used in metrics, events, history and the dashboard: "openrouter", "openai",
 * "google" or "simulated".
 */
export const providerLabel = (config: AppConfigShape): string => config.llm.provider

/** The model id as it is shown and recorded: simulated models always read `simulated-*`. */
export const modelLabel = (config: AppConfigShape, model: string = config.llm.model): string =>
  config.llm.provider === "simulated" ? LlmSimulated.modelId(model) : model

/**
 * A `LanguageModel` of the configured provider for `model` (default `config.llm.model`). The
 * simulated provider ignores the HTTP client; Gemini's client needs the scope.
 */
export const makeModel = (
  config: AppConfigShape,
  model: string = config.llm.model
): Effect.Effect<LanguageModel.Service, never, HttpClient.HttpClient | Scope.Scope> => {
  switch (config.llm.provider) {
    case "openrouter":
      return LlmOpenRouter.make(LlmOpenRouter.optionsFromConfig(config, "openrouter", model))
    case "openai":
      return LlmOpenRouter.make(LlmOpenRouter.optionsFromConfig(config, "openai", model))
    case "google":
      return LlmGoogle.make(LlmGoogle.optionsFromConfig(config, model))
    case "simulated":
      return LlmSimulated.make(LlmSimulated.optionsFromConfig(config, model))
  }
}

/** A Layer of the configured provider for one model id (for fallbacks). */
export const modelLayer = (
  config: AppConfigShape,
  model: string
): Layer.Layer<LanguageModel.LanguageModel, never, HttpClient.HttpClient> =>
  Layer.scoped(LanguageModel.LanguageModel, makeModel(config, model))

/** The configured provider and model, from `AppConfig`; the caller supplies the HTTP client. */
export const layer: Layer.Layer<LanguageModel.LanguageModel, never, AppConfig | HttpClient.HttpClient> = Layer.scoped(
  LanguageModel.LanguageModel,
  Effect.flatMap(AppConfig, (config) => makeModel(config))
)

/** The HTTP client the provider adapters run on: undici with a keep-alive dispatcher. */
export const layerHttpClient: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerUndici

/** `layer` with its HTTP client included: all `main.ts` needs besides `AppConfig`. */
export const layerNode: Layer.Layer<LanguageModel.LanguageModel, never, AppConfig> = layer.pipe(
  Layer.provide(layerHttpClient)
)
