/**
 * LlmSimulated — an in-process `LanguageModel` for demos, tests and benchmarks: no network, no key.
 *
 * Output is a pure function of the seed and the prompt (the same prompt always gets the same
 * answer), and satisfies the requested Schema when structured output is asked for, via
 * `effect/Arbitrary` with a seeded fast-check sample. Faults are drawn from a seeded stream, one draw
 * per call, so retries of the same prompt can succeed: 429 with `Retry-After`, 500/503, and hangs
 * that only a timeout ends. Latency goes through `Effect.sleep`, so `TestClock` controls it. Every
 * answer is labelled: the model id starts with `simulated-` and the metadata names the provider
 * "simulated".
 */
import * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Prompt from "@effect/ai/Prompt"
import type * as Response from "@effect/ai/Response"
import { Arbitrary, Clock, Duration, Effect, Either, FastCheck, Layer, Option, Schema, Stream } from "effect"
import { AppConfig, type AppConfigShape } from "../services/AppConfig.js"
import { fnv1a, seededRandom } from "../internal/seededRandom.js"

/** The provider name shown wherever simulated output appears. */
export const PROVIDER = "simulated"

/** A model id that says it is simulated: `simulated-1` stays, `gpt-4o` becomes `simulated-gpt-4o`. */
export const modelId = (model: string): string => (model.startsWith("simulated") ? model : `simulated-${model}`)

/** What the simulated provider does. */
export interface Options {
  /** Model id; prefixed with `simulated-` when it is not already. */
  readonly model: string
  readonly seed: number
  /** Mean latency; each call waits between half and one and a half times this. */
  readonly latencyMs: number
  /** Share of calls failing with a 5xx or a hang (see `timeoutShare`). */
  readonly errorRate: number
  /** Share of calls answered 429 with a `Retry-After` header. */
  readonly rateLimitRate: number
  /** Share of `errorRate` that hangs instead of answering 5xx; default 0.2. */
  readonly timeoutShare?: number
  /** How long a hang lasts before it ends in a 504; default 10 minutes. */
  readonly hangMs?: number
}

// ---------------------------------------------------------------------------------------------
// Prompt and output
// ---------------------------------------------------------------------------------------------

const messageText = (message: Prompt.Message): string => {
  if (message.role === "system") return message.content
  const out: Array<string> = []
  for (const part of message.content) {
    if (part.type === "text" || part.type === "reasoning") out.push(part.text)
    else if (part.type === "tool-call") out.push(JSON.stringify(part.params))
    else if (part.type === "tool-result") out.push(JSON.stringify(part.result))
  }
  return out.join("\n")
}

/** The prompt as one string (roles included), the input of the hash and of the token estimate. */
export const promptText = (prompt: Prompt.Prompt): string =>
  prompt.content.map((m) => `${m.role}: ${messageText(m)}`).join("\n")

const lastUserText = (prompt: Prompt.Prompt): string => {
  for (let i = prompt.content.length - 1; i >= 0; i--) {
    const m = prompt.content[i]
    if (m !== undefined && m.role === "user") return messageText(m)
  }
  return ""
}

/** Tokens estimated at ~4 characters each, the usual rule of thumb for English text. */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4)

const WORDS = [
  "agent", "analysis", "budget", "cache", "circuit", "context", "draft", "evidence", "finding", "insight",
  "latency", "metric", "model", "outline", "plan", "priority", "review", "risk", "signal", "source",
  "step", "summary", "theme", "trend", "workflow"
]

const SENTENCES = [
  "The main points are grouped by theme and ordered by relevance.",
  "Three considerations stand out: scope, cost and timing.",
  "The evidence supports a cautious, incremental approach.",
  "A short summary follows, with the open questions listed last.",
  "No real model was called; this text only stands in for one.",
  "The request was parsed and answered with placeholder content.",
  "Key risks are noted alongside possible mitigations.",
  "The draft keeps to the requested format and length."
]

const phrase = (random: () => number): string => {
  const n = 2 + Math.floor(random() * 3)
  const words: Array<string> = []
  for (let i = 0; i < n; i++) words.push(WORDS[Math.floor(random() * WORDS.length)] ?? "simulated")
  return `simulated ${words.join(" ")}`
}

const plainText = (model: string, seed: number, prompt: Prompt.Prompt, random: () => number): string => {
  const subject = lastUserText(prompt).replace(/\s+/g, " ").trim()
  const quoted = subject.length > 80 ? `${subject.slice(0, 77)}...` : subject
  const n = 2 + Math.floor(random() * 3)
  const body: Array<string> = []
  for (let i = 0; i < n; i++) body.push(SENTENCES[Math.floor(random() * SENTENCES.length)] ?? "")
  return `[simulated response from ${model}, seed ${seed}] On "${quoted}": ${body.join(" ")}`
}

type AnySchema = Schema.Schema<unknown, unknown, never>

interface Generator {
  readonly arbitrary: FastCheck.Arbitrary<unknown>
  readonly decodeJson: (text: string) => Either.Either<unknown, unknown>
  readonly encode: (value: unknown) => Either.Either<unknown, unknown>
}

// Building an Arbitrary and compiling parsers cost far more than sampling; agents reuse schemas.
const generators = new WeakMap<object, Generator>()

const generatorOf = (schema: AnySchema): Generator => {
  const cached = generators.get(schema)
  if (cached !== undefined) return cached
  const generator: Generator = {
    arbitrary: Arbitrary.make(schema),
    decodeJson: Schema.decodeUnknownEither(Schema.parseJson(schema)),
    encode: Schema.encodeUnknownEither(schema)
  }
  generators.set(schema, generator)
  return generator
}

/** Replaces non-finite numbers, which JSON cannot carry, with 0. */
const jsonSafe = (value: unknown): unknown => {
  if (typeof value === "number") return Number.isFinite(value) ? value : 0
  if (Array.isArray(value)) return value.map(jsonSafe)
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = jsonSafe(v)
    return out
  }
  return value
}

type Path = ReadonlyArray<string | number>

type Leaf = readonly [Path, "string" | "number"]

const leaves = (value: unknown, path: Path = [], out: Array<Leaf> = []): Array<Leaf> => {
  if (typeof value === "string") out.push([path, "string"])
  else if (typeof value === "number") out.push([path, "number"])
  else if (Array.isArray(value)) value.forEach((v, i) => leaves(v, [...path, i], out))
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) leaves(v, [...path, k], out)
  }
  return out
}

const setAt = (root: unknown, path: Path, leaf: unknown): unknown => {
  if (path.length === 0) return leaf
  const [head, ...rest] = path
  if (Array.isArray(root)) return root.map((v, i) => (i === head ? setAt(v, rest, leaf) : v))
  const obj = root as Record<string, unknown>
  return { ...obj, [head as string]: setAt(obj[head as string], rest, leaf) }
}

/**
 * A JSON text that decodes against `schema`, chosen by `seed`. Arbitrary's strings are random
 * characters and its numbers extreme, so each string leaf is swapped for a readable phrase and each
 * number for a small integer wherever the schema still accepts the result (literals, patterns,
 * ranges and length limits keep their generated value).
 */
export const structuredText = (schema: Schema.Schema.Any, seed: number): Either.Either<string, string> => {
  const s = schema as unknown as AnySchema
  let generator: Generator
  try {
    generator = generatorOf(s)
  } catch (e) {
    return Either.left(`no generator for this schema: ${e instanceof Error ? e.message : String(e)}`)
  }
  const { arbitrary, decodeJson: decode, encode } = generator
  const random = seededRandom(seed ^ 0x5EED)
  for (let attempt = 0; attempt < 25; attempt++) {
    const [value] = FastCheck.sample(arbitrary, { seed: (seed + attempt * 7919) | 0, numRuns: 1 })
    const encoded = encode(value)
    if (Either.isLeft(encoded)) continue
    let candidate = jsonSafe(encoded.right)
    if (Either.isLeft(decode(JSON.stringify(candidate)))) continue
    for (const [path, kind] of leaves(candidate)) {
      const next = setAt(candidate, path, kind === "string" ? phrase(random) : Math.round(random() * 10))
      if (Either.isRight(decode(JSON.stringify(next)))) candidate = next
    }
    return Either.right(JSON.stringify(candidate))
  }
  return Either.left("could not generate a value that satisfies the schema")
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

const requestDetails = (model: string): AiError.HttpRequestError["request"] => ({
  method: "POST",
  url: `simulated://${PROVIDER}/${model}/chat/completions`,
  urlParams: [],
  hash: Option.none(),
  headers: {}
})

const httpError = (model: string, status: number, headers: Record<string, string>, description: string) =>
  new AiError.HttpResponseError({
    module: "LlmSimulated",
    method: "generateText",
    reason: "StatusCode",
    request: requestDetails(model),
    response: { status, headers },
    body: JSON.stringify({ error: { code: status, message: description } }),
    description
  })

type Outcome =
  | { readonly _tag: "Ok"; readonly latencyMs: number }
  | { readonly _tag: "RateLimited"; readonly latencyMs: number; readonly retryAfterSeconds: number }
  | { readonly _tag: "ServerError"; readonly latencyMs: number; readonly status: 500 | 503 }
  | { readonly _tag: "Hang" }

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

/** Builds the simulated `LanguageModel`. Needs nothing: no network, no key. */
export const make = (options: Options): Effect.Effect<LanguageModel.Service> =>
  Effect.suspend(() => {
    const model = modelId(options.model)
    const seed = options.seed | 0
    const draw = seededRandom(fnv1a(`faults:${seed}`))
    const rateLimitRate = Math.max(0, Math.min(1, options.rateLimitRate))
    const errorRate = Math.max(0, Math.min(1 - rateLimitRate, options.errorRate))
    const timeoutShare = Math.max(0, Math.min(1, options.timeoutShare ?? 0.2))
    const hangMs = options.hangMs ?? 600_000
    let calls = 0

    // One draw sequence per call, taken synchronously so concurrent calls never share draws.
    const nextOutcome = (): Outcome => {
      const r = draw()
      const jitter = draw()
      const detail = draw()
      const latencyMs = Math.round(options.latencyMs * (0.5 + jitter))
      if (r < rateLimitRate) {
        return { _tag: "RateLimited", latencyMs: Math.round(latencyMs / 10), retryAfterSeconds: 1 + Math.floor(detail * 3) }
      }
      if (r < rateLimitRate + errorRate) {
        const e = (r - rateLimitRate) / errorRate
        if (e < timeoutShare) return { _tag: "Hang" }
        return { _tag: "ServerError", latencyMs, status: detail < 0.5 ? 500 : 503 }
      }
      return { _tag: "Ok", latencyMs }
    }

    const wait = (ms: number) => (ms > 0 ? Effect.sleep(Duration.millis(ms)) : Effect.void)

    const answer = (providerOptions: LanguageModel.ProviderOptions) =>
      Effect.gen(function*() {
        const outcome = nextOutcome()
        const call = ++calls
        switch (outcome._tag) {
          case "Hang":
            yield* wait(hangMs)
            return yield* httpError(model, 504, {}, `simulated timeout: no answer within ${hangMs} ms`)
          case "RateLimited":
            yield* wait(outcome.latencyMs)
            return yield* httpError(
              model,
              429,
              { "retry-after": String(outcome.retryAfterSeconds) },
              "simulated rate limit"
            )
          case "ServerError":
            yield* wait(outcome.latencyMs)
            return yield* httpError(model, outcome.status, {}, `simulated server error ${outcome.status}`)
          case "Ok":
            break
        }
        const input = promptText(providerOptions.prompt)
        const promptHash = fnv1a(input, fnv1a(`seed:${seed}`))
        const format = providerOptions.responseFormat
        let text: string
        if (format.type === "json") {
          const generated = structuredText(format.schema, (promptHash ^ fnv1a(format.objectName)) | 0)
          if (Either.isLeft(generated)) {
            return yield* new AiError.MalformedOutput({
              module: "LlmSimulated",
              method: "generateText",
              description: `simulated provider cannot produce ${format.objectName}: ${generated.left}`
            })
          }
          text = generated.right
        } else {
          text = plainText(model, seed, providerOptions.prompt, seededRandom(promptHash))
        }
        yield* wait(outcome.latencyMs)
        const now = yield* Clock.currentTimeMillis
        const inputTokens = estimateTokens(input)
        const outputTokens = estimateTokens(text)
        return {
          id: `sim-${seed}-${promptHash.toString(16)}-${call}`,
          text,
          timestamp: new Date(now).toISOString(),
          usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens }
        }
      })

    const metadata = { [PROVIDER]: { provider: PROVIDER, seed } }

    return LanguageModel.make({
      generateText: (providerOptions) =>
        Effect.map(answer(providerOptions), (a): Array<Response.PartEncoded> => [
          { type: "response-metadata", id: a.id, modelId: model, timestamp: a.timestamp, metadata },
          { type: "text", text: a.text },
          { type: "finish", reason: "stop", usage: a.usage, metadata }
        ]),
      streamText: (providerOptions) =>
        Stream.unwrap(Effect.map(answer(providerOptions), (a) =>
          Stream.fromIterable<Response.StreamPartEncoded>([
            { type: "response-metadata", id: a.id, modelId: model, timestamp: a.timestamp, metadata },
            { type: "text-start", id: a.id },
            { type: "text-delta", id: a.id, delta: a.text },
            { type: "text-end", id: a.id },
            { type: "finish", reason: "stop", usage: a.usage, metadata }
          ])))
    })
  })

/**
 * The `Options` of a configuration (`SIM_*` settings) for `model` (default `config.llm.model`).
 * A hang lasts twice `LLM_TIMEOUT`, so the per-attempt timeout always ends it first.
 */
export const optionsFromConfig = (config: AppConfigShape, model: string = config.llm.model): Options => ({
  model,
  seed: config.simulated.seed,
  latencyMs: config.simulated.latencyMs,
  errorRate: config.simulated.errorRate,
  rateLimitRate: config.simulated.rateLimitRate,
  hangMs: Math.max(600_000, 2 * Duration.toMillis(config.llm.timeout))
})

/** The simulated `LanguageModel` configured by `AppConfig`. */
export const layer: Layer.Layer<LanguageModel.LanguageModel, never, AppConfig> = Layer.effect(
  LanguageModel.LanguageModel,
  Effect.flatMap(AppConfig, (config) => make(optionsFromConfig(config)))
)
