/**
 * The modules of `@effect/ai-openrouter` the chat-completions adapter uses. `npm run build` bundles
 * this file with the package's code into `dist/` (effect and `@effect/*` left as imports): the
 * package's peer ranges stop at `@effect/ai` 0.35, so as a dependency it would make every install
 * warn (ERESOLVE) or pull in a second Effect; bundled, it runs on the user's own copies, as it runs
 * on ours in the tests (its code is unchanged on `@effect/ai` 0.37).
 */
export * as OpenRouterClient from "@effect/ai-openrouter/OpenRouterClient"
export * as OpenRouterLanguageModel from "@effect/ai-openrouter/OpenRouterLanguageModel"
