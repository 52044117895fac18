/**
 * The simulated provider's text: the prompt read as one string, a readable made-up answer, for
 * structured output a JSON text that satisfies the requested Schema (via `effect/Arbitrary` with a
 * seeded fast-check sample), and the tool calls of a model that has tools. Pure functions of the
 * seed and the prompt.
 */
import type * as Prompt from "@effect/ai/Prompt"
import type * as Tool from "@effect/ai/Tool"
import { Arbitrary, Either, FastCheck, Schema } from "effect"
import { seededRandom } from "./seededRandom.js"

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

/** A readable made-up answer to the prompt's last user message, labelled as simulated. */
export const plainText = (model: string, seed: number, prompt: Prompt.Prompt, random: () => number): string => {
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

/** A tool call the simulated model makes. */
export interface SimulatedToolCall {
  readonly id: string
  readonly name: string
  readonly params: unknown
}

/** Names of the tools whose results the prompt holds since its last user message. */
const answeredSince = (prompt: Prompt.Prompt): ReadonlySet<string> => {
  const names = new Set<string>()
  for (let i = prompt.content.length - 1; i >= 0; i--) {
    const m = prompt.content[i]!
    if (m.role === "user") break
    if (m.role === "tool") for (const part of m.content) names.add(part.name)
  }
  return names
}

/**
 * The tool calls of a simulated model offered `tools`: in its first step after a user message it
 * calls every tool once, all at the same time, with arguments generated from each tool's parameter
 * Schema (seeded by the prompt); once every tool has answered it calls none, and answers. Tools whose
 * arguments cannot be generated are not called.
 */
export const toolCalls = (
  prompt: Prompt.Prompt,
  tools: ReadonlyArray<Tool.Any>,
  seed: number
): ReadonlyArray<SimulatedToolCall> => {
  const answered = answeredSince(prompt)
  if (answered.size > 0) return []
  const calls: Array<SimulatedToolCall> = []
  tools.forEach((tool, i) => {
    const params = structuredText(tool.parametersSchema, (seed ^ (i + 1) * 0x9E3779B1) | 0)
    if (Either.isRight(params)) {
      calls.push({ id: `call_${(seed >>> 0).toString(16)}_${i + 1}`, name: tool.name, params: JSON.parse(params.right) })
    }
  })
  return calls
}
