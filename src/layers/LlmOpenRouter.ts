/**
 * LlmOpenRouter — `LanguageModel` over OpenRouter: the OpenRouter flavour of the OpenAI-compatible
 * adapter (`LlmOpenAiCompatible`), with OpenRouter's key, endpoint and `X-Title` attribution.
 *
 * The names this module exported when it was the whole adapter stay here as aliases, so code that
 * imports them keeps working; new code uses `LlmOpenAiCompatible` for the adapter itself.
 */
import type * as LanguageModel from "@effect/ai/LanguageModel"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Layer from "effect/Layer"
import type { AppConfig } from "../services/AppConfig.js"
import * as LlmOpenAiCompatible from "./LlmOpenAiCompatible.js"

export {
  type Flavour,
  make,
  OPENAI_BASE_URL,
  OPENROUTER_BASE_URL,
  type Options,
  optionsFromConfig
} from "./LlmOpenAiCompatible.js"
export { redactAiError, secretTexts } from "../internal/redaction.js"

/** `LanguageModel` for `LLM_PROVIDER=openrouter`, from `AppConfig`. */
export const layer: Layer.Layer<LanguageModel.LanguageModel, never, AppConfig | HttpClient.HttpClient> = LlmOpenAiCompatible
  .layerFlavour("openrouter")

/** `LlmOpenAiCompatible.layer` (`LLM_PROVIDER=openai`), under the name this module gave it. */
export const layerOpenAi: Layer.Layer<LanguageModel.LanguageModel, never, AppConfig | HttpClient.HttpClient> =
  LlmOpenAiCompatible.layer
