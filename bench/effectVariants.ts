/**
 * effectVariants — the llm-overhead variants that are Effect programs over a `LanguageModel`:
 * the full resilient stack, the bare provider it wraps (its direct undici path), and the same
 * provider through `@effect/ai-openrouter` (`direct: false`). Each runs its calls with Effect's
 * own concurrency and sends the shared prompt (system + user message).
 *
 * Connections: each runtime is built once per variant and kept across rounds, and with it its
 * pool — the direct path's own undici Agent (stack, provider) or `@effect/platform-node`'s undici
 * Agent (package).
 */
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { LanguageModel } from "@effect/ai"
import { Effect, Layer, ManagedRuntime } from "effect"
import * as LlmOpenAiCompatible from "../src/layers/LlmOpenAiCompatible.js"
import * as LlmProvider from "../src/layers/LlmProvider.js"
import * as Logging from "../src/layers/Logging.js"
import { testConfig, testConfigLayer } from "../test/support/config.js"
import * as Stack from "../test/support/resilientStack.js"
import type { Load, Prepared, Run } from "./measure.js"
import { chatMessages, KEY, userText } from "./promptShape.js"

export type ModelRuntime = ManagedRuntime.ManagedRuntime<LanguageModel.LanguageModel, never>

/** The environment of the full stack: generous limiter, retry, breaker, SQLite cache, log file. */
const stackEnv = (dataDir: string): Record<string, string> => ({
  OPENAI_API_KEY: KEY,
  LLM_TIMEOUT: "60",
  CACHE_BACKEND: "sqlite",
  DATA_DIR: dataDir,
  LOG_DIR: join(dataDir, "logs"),
  LOG_LEVEL: process.env["BENCH_LOG_LEVEL"] ?? "INFO",
  LOG_FORMAT: "json",
  RATE_LIMIT_MAX_CALLS: "100000000",
  RATE_LIMIT_PERIOD: "1",
  MAX_RETRIES: "3",
  RETRY_INITIAL_WAIT: "1",
  RETRY_MAX_WAIT: "60",
  CIRCUIT_BREAKER_FAILURE_THRESHOLD: "5",
  // Experiments: e.g. BENCH_STACK_ENV='{"RATE_LIMIT_ENABLED":"false"}' to price one component.
  ...(JSON.parse(process.env["BENCH_STACK_ENV"] ?? "{}") as Record<string, string>)
})

/** The full stack as the CLI builds it, plus the JSON log file. */
export const stackRuntime = (openaiUrl: string, dataDir: string): ModelRuntime => {
  const env = Stack.stackEnv(openaiUrl, stackEnv(dataDir))
  const logging = Logging.layer({ console: false }).pipe(Layer.provide(testConfigLayer(env)))
  return ManagedRuntime.make(Layer.merge(Stack.layer(openaiUrl, stackEnv(dataDir)), logging))
}

/** The bare provider model of the stack's configuration (`direct: false`: the package path only). */
export const providerRuntime = (openaiUrl: string, direct = true): ModelRuntime => {
  const config = testConfig(Stack.stackEnv(openaiUrl, { OPENAI_API_KEY: KEY }))
  const model = direct
    ? LlmProvider.makeModel(config)
    : LlmOpenAiCompatible.make({ ...LlmOpenAiCompatible.optionsFromConfig(config, "openai"), direct: false })
  return ManagedRuntime.make(
    Layer.scoped(LanguageModel.LanguageModel, model).pipe(Layer.provide(LlmProvider.layerHttpClient))
  )
}

/** One round through `runtime`: one Effect program, Effect's own concurrency. */
const viaLanguageModel = (runtime: ModelRuntime, label: string, round: number, load: Load): Promise<Run> =>
  runtime.runPromise(Effect.gen(function*() {
    const latencies = new Float64Array(load.calls)
    let failures = 0
    const start = performance.now()
    yield* Effect.forEach(
      Array.from({ length: load.calls }, (_, i) => i),
      (i) =>
        Effect.suspend(() => {
          const t0 = performance.now()
          return LanguageModel.generateText({ prompt: chatMessages(userText(label, round, i)) }).pipe(
            Effect.matchCause({
              onFailure: () => {
                failures += 1
              },
              onSuccess: () => undefined
            }),
            Effect.map(() => {
              latencies[i] = performance.now() - t0
            })
          )
        }),
      { concurrency: load.concurrency, discard: true }
    )
    return { wallMs: performance.now() - start, latencies, failures }
  }))

/** A variant over `runtime`, which it owns (disposed with it). */
export const fromRuntime = (runtime: ModelRuntime, label: string, load: Load): Prepared => ({
  round: (round) => viaLanguageModel(runtime, label, round, load),
  dispose: () => runtime.dispose()
})
