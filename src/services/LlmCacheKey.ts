/**
 * LlmCacheKey — the cache key of an LLM call, and which calls are cached at all.
 *
 * A key is the hex SHA-256 of the canonical JSON of everything that can change the answer:
 * provider, model, settings, the encoded prompt, the tools offered and the response schema.
 * `makeCallKeys` derives it from a `LanguageModel` call's options; its memo of recent plain-text
 * prompts and the per-object memos of schemas and toolkits exist only for speed (an agent sends
 * the same objects, and often the same question, again and again).
 */
import * as crypto from "node:crypto"
import type { LanguageModel } from "@effect/ai"
import * as AiPrompt from "@effect/ai/Prompt"
import type * as Tool from "@effect/ai/Tool"
import { JSONSchema, Schema } from "effect"


/** A tool offered to the model, as far as it changes the answer. */
export interface CacheKeyTool {
  readonly name: string
  readonly description?: string | undefined
  /** The tool's parameters as a JSON schema. */
  readonly parameters: unknown
}

/** Everything about a request that can change the response. */
export interface CacheKeyInput {
  readonly provider: string
  readonly model: string
  /** Generation settings: temperature, maxTokens, topP, ... any JSON-like record. */
  readonly settings?: Readonly<Record<string, unknown>> | undefined
  /** The encoded prompt messages. */
  readonly prompt: unknown
  /**
   * `canonicalJson(prompt)`, when the caller built it already (a plain-text prompt's is a fixed
   * template around the text); it is used instead of walking `prompt`.
   */
  readonly promptCanonical?: string | undefined
  readonly tools?: ReadonlyArray<CacheKeyTool> | undefined
  /** The JSON schema of the requested structured output, if any. */
  readonly responseSchema?: unknown
}

/** Bumped when the key derivation changes, so old entries simply stop matching. */
const KEY_VERSION = 1

/**
 * Canonical JSON: object keys sorted, arrays in order, `undefined` object members dropped (as
 * `JSON.stringify` does), `toJSON` honoured, bigints as strings. Equal data gives equal text
 * whatever order its keys were built in.
 */
export const canonicalJson = (value: unknown): string => {
  // The objects being walked, outermost first: a value met again inside itself is a cycle. (An
  // array beats a Set here: prompts are shallow, and this runs on every LLM call.)
  const ancestors: Array<object> = []
  const walk = (v: unknown): string => {
    if (v === null || v === undefined) return "null"
    switch (typeof v) {
      case "string":
      case "boolean":
        return JSON.stringify(v)
      case "number":
        return Number.isFinite(v) ? JSON.stringify(v) : "null"
      case "bigint":
        return JSON.stringify(v.toString())
      case "function":
      case "symbol":
        return "null"
    }
    const o = v as object & { toJSON?: () => unknown }
    if (typeof o.toJSON === "function") return walk(o.toJSON())
    if (ancestors.includes(o)) throw new TypeError("canonicalJson: circular structure")
    ancestors.push(o)
    let out: string
    if (Array.isArray(o)) {
      out = "["
      for (let i = 0; i < o.length; i++) out += (i === 0 ? "" : ",") + walk(o[i])
      out += "]"
    } else {
      const record = o as Record<string, unknown>
      out = "{"
      let first = true
      for (const k of Object.keys(record).sort()) {
        const member = record[k]
        if (member === undefined || typeof member === "function" || typeof member === "symbol") continue
        out += `${first ? "" : ","}${JSON.stringify(k)}:${walk(member)}`
        first = false
      }
      out += "}"
    }
    ancestors.pop()
    return out
  }
  return walk(value)
}

/**
 * The cache key of a request: hex SHA-256 of the canonical JSON of provider, model, settings,
 * prompt, tools (name, description, parameters) and response schema. Identical requests give equal
 * keys; a difference in any field gives a different key; key order inside objects does not matter.
 */
export const cacheKey = (input: CacheKeyInput): string =>
  sha256Hex(
    // The canonical JSON of { v, provider, model, settings, prompt, tools, responseSchema }, written
    // out in its sorted key order: schemas and toolkits are the same objects call after call, so
    // their canonical text is kept per object instead of walking them on every call.
    `{"model":${JSON.stringify(input.model)},"prompt":${input.promptCanonical ?? canonicalJson(input.prompt)},"provider":${
      JSON.stringify(input.provider)
    }${input.responseSchema === undefined ? "" : `,"responseSchema":${canonicalOf(input.responseSchema)}`},"settings":${
      canonicalJson(input.settings ?? {})
    },"tools":${input.tools === undefined ? "[]" : canonicalOf(input.tools, toolsJson)},"v":${KEY_VERSION}}`
  )

const canonicalTexts = new WeakMap<object, string>()

/** The canonical JSON of a value that callers pass again and again as the same object. */
const canonicalOf = <A>(value: A, toJson: (value: A) => unknown = (v) => v): string => {
  if (typeof value !== "object" || value === null) return canonicalJson(toJson(value))
  let text = canonicalTexts.get(value)
  if (text === undefined) {
    text = canonicalJson(toJson(value))
    canonicalTexts.set(value, text)
  }
  return text
}

const toolsJson = (tools: ReadonlyArray<CacheKeyTool>) =>
  tools.map((t) => ({ name: t.name, description: t.description, parameters: t.parameters }))

/** Hex SHA-256; Node's one-shot `crypto.hash` (20.12+) skips the Hash object when present. */
const sha256Hex: (text: string) => string = typeof (crypto as { hash?: unknown }).hash === "function"
  ? (text) => (crypto as unknown as { hash: (algorithm: string, data: string, encoding: "hex") => string }).hash("sha256", text, "hex")
  : (text) => crypto.createHash("sha256").update(text).digest("hex")

// ---------------------------------------------------------------------------------------------
// The key of a LanguageModel call
// ---------------------------------------------------------------------------------------------

/** The options of a `generateText` / `generateObject` call, as far as the key is concerned. */
export type CallOptions = LanguageModel.GenerateTextOptions<Record<string, Tool.Any>> & {
  readonly schema?: Schema.Schema.Any | undefined
}

/**
 * Calls whose tools run handlers have side effects a cache hit would skip, so only calls without a
 * toolkit, or with tool-call resolution disabled, are cached.
 */
export const isCacheable = (options: CallOptions): boolean =>
  options.toolkit === undefined || options.disableToolCallResolution === true

// Compiled once; `Schema.encodeSync(schema)` per call rebuilt the encoder every time.
const encodeAiPrompt = Schema.encodeSync(AiPrompt.Prompt)

// The encoded form of a plain prompt — a string, or messages whose content is a string — built
// directly: constructing and encoding the `Prompt` classes costs ~25 µs, more than the rest of a
// cache hit. Checked against the real encoder at startup; on any mismatch the slow path is used.
type PlainMessage = { readonly role: "system" | "user" | "assistant"; readonly content: string }

/** The messages of a plain prompt, or `undefined` when the prompt has anything else in it. */
const plainMessages = (prompt: AiPrompt.RawInput): ReadonlyArray<PlainMessage> | undefined => {
  if (typeof prompt === "string") return [{ role: "user", content: prompt }]
  if (!Array.isArray(prompt)) return undefined
  for (const message of prompt as ReadonlyArray<Record<string, unknown>>) {
    const role = message["role"]
    if (typeof message["content"] !== "string" || (role !== "system" && role !== "user" && role !== "assistant")) {
      return undefined
    }
    for (const key in message) if (key !== "role" && key !== "content") return undefined
  }
  return prompt as ReadonlyArray<PlainMessage>
}
const plainJson = (messages: ReadonlyArray<PlainMessage>): unknown => ({
  content: messages.map((m) => ({ role: m.role, content: m.content, options: {} }))
})
/** `canonicalJson(plainJson(messages))`, written out. */
const plainCanonical = (messages: ReadonlyArray<PlainMessage>): string =>
  `{"content":[${
    messages.map((m) => `{"content":${JSON.stringify(m.content)},"options":{},"role":${JSON.stringify(m.role)}}`).join(",")
  }]}`
const plainShortcutHolds = (() => {
  const text = "probe \u00e9 \" {} \n \u2028"
  const probes: ReadonlyArray<AiPrompt.RawInput> = [
    text,
    [{ role: "system", content: text }, { role: "user", content: text }, { role: "assistant", content: "" }]
  ]
  try {
    return probes.every((probe) => {
      const canonical = canonicalJson(encodeAiPrompt(AiPrompt.make(probe)))
      const messages = plainMessages(probe)!
      return canonical === canonicalJson(plainJson(messages)) && canonical === plainCanonical(messages)
    })
  } catch {
    return false
  }
})()

/** Whether this `@effect/ai` encodes plain prompts as the shortcut writes them (checked at startup). */
export const plainPromptShortcut: boolean = plainShortcutHolds

/** The plain messages of a prompt when the shortcut applies. */
const plainOf = (prompt: AiPrompt.RawInput): ReadonlyArray<PlainMessage> | undefined =>
  plainShortcutHolds ? plainMessages(prompt) : undefined

/** The encoded prompt (what the key covers) of any prompt input. */
export const encodePrompt = (prompt: AiPrompt.RawInput): unknown => {
  const plain = plainOf(prompt)
  return plain !== undefined ? plainJson(plain) : encodeAiPrompt(AiPrompt.make(prompt))
}

/** The limiter's token estimate of an encoded prompt: its JSON length / 4. */
export const estimateTokens = (encoded: unknown): number => Math.ceil(JSON.stringify(encoded).length / 4)

// JSON schemas of response schemas and toolkits, derived once per object.
const jsonSchemas = new WeakMap<object, unknown>()
const jsonSchemaOf = (schema: Schema.Schema.Any): unknown => {
  let found = jsonSchemas.get(schema)
  if (found === undefined) {
    found = JSONSchema.make(schema)
    jsonSchemas.set(schema, found)
  }
  return found
}
const toolkitKeys = new WeakMap<object, ReadonlyArray<CacheKeyTool>>()

/** Tools as far as they change the answer. */
const toolsOf = (options: CallOptions): ReadonlyArray<CacheKeyTool> | undefined => {
  const toolkit = options.toolkit as { readonly tools?: Record<string, Tool.Any> } | undefined
  if (toolkit === undefined || toolkit.tools === undefined) return undefined
  let found = toolkitKeys.get(toolkit)
  if (found === undefined) {
    found = Object.values(toolkit.tools).map((tool) => ({
      name: tool.name,
      description: tool.description,
      parameters: jsonSchemaOf(tool.parametersSchema)
    }))
    toolkitKeys.set(toolkit, found)
  }
  return found
}

/** A number per response schema object, for the memo of recent keys. */
const schemaIds = new WeakMap<object, number>()
let nextSchemaId = 0
const schemaIdOf = (schema: object): number => {
  let id = schemaIds.get(schema)
  if (id === undefined) {
    id = nextSchemaId++
    schemaIds.set(schema, id)
  }
  return id
}

/**
 * The memo text of plain messages (roles and contents, unambiguously joined), or `undefined` when
 * they are too long to be worth remembering.
 */
const promptText = (messages: ReadonlyArray<PlainMessage>): string | undefined => {
  let text = ""
  for (const m of messages) {
    // A JSON string ends at its first unescaped quote, so no content can pass for another message.
    text += m.role + JSON.stringify(m.content)
    if (text.length > RECENT_KEY_MAX_CHARS) return undefined
  }
  return text
}

/** Recent keys remembered, and the longest prompt worth remembering. */
const RECENT_KEYS = 1_024
const RECENT_KEY_MAX_CHARS = 4 * 1024

/** The model a key is for: provider, model id and its limiter key (unique per provider and model). */
export interface KeyModel {
  readonly provider: string
  readonly model: string
  readonly key: string
}

/**
 * A function giving the cache key of a call to `model` with `settings`; `encoded()` gives
 * `encodePrompt(options.prompt)`, asked for only when the key must be derived. It remembers the keys of recent plain-text calls (bounded in
 * entries and prompt length, oldest dropped first): asking the same question again skips
 * canonicalising and hashing it (~3 µs of a ~17 µs cache hit). Prompts of plain messages only.
 */
export const makeCallKeys = () => {
  const recent = new Map<string, string>()
  const derive = (
    options: CallOptions,
    model: KeyModel,
    settings: object | undefined,
    encoded: () => unknown,
    plain: ReadonlyArray<PlainMessage> | undefined
  ) =>
    cacheKey({
      provider: model.provider,
      model: model.model,
      settings: settings as Record<string, unknown> | undefined,
      prompt: plain === undefined ? encoded() : undefined,
      promptCanonical: plain === undefined ? undefined : plainCanonical(plain),
      tools: toolsOf(options),
      responseSchema: options.schema === undefined ? undefined : jsonSchemaOf(options.schema)
    })
  return (options: CallOptions, model: KeyModel, settings: object | undefined, encoded: () => unknown): string => {
    const plain = plainOf(options.prompt)
    const text = plain === undefined || options.toolkit !== undefined ? undefined : promptText(plain)
    if (text === undefined) return derive(options, model, settings, encoded, plain)
    const memo = `${model.key}\u0000${settings === undefined ? "" : canonicalJson(settings)}\u0000${
      options.schema === undefined ? "" : schemaIdOf(options.schema)
    }\u0000${text}`
    let key = recent.get(memo)
    if (key === undefined) {
      key = derive(options, model, settings, encoded, plain)
      recent.set(memo, key)
      if (recent.size > RECENT_KEYS) recent.delete(recent.keys().next().value!)
    }
    return key
  }
}
