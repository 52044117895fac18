/**
 * The modules of `@effect/ai-google` the Gemini adapter uses, bundled into `dist/` by
 * `npm run build` for the reason `openRouterPackage.ts` gives (its peer ranges stop at
 * `@effect/ai` 0.36 and `@effect/platform` 0.96).
 */
export * as GoogleClient from "@effect/ai-google/GoogleClient"
export * as GoogleLanguageModel from "@effect/ai-google/GoogleLanguageModel"
