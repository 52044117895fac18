/**
 * The cache key of a call: the plain-prompt shortcut (string or string-content messages encoded
 * without the `Prompt` classes) and the memo of recent keys must give exactly the key the full
 * derivation gives, and distinct prompts must never share a key.
 */
import * as AiPrompt from "@effect/ai/Prompt"
import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { cacheKey, type CallOptions, encodePrompt, makeCallKeys, plainPromptShortcut } from "../src/services/LlmCacheKey.js"

const encodeSlow = Schema.encodeSync(AiPrompt.Prompt)
const model = { provider: "openai", model: "gpt", key: "openai:gpt" }

/** The key as the full derivation computes it: the real encoder, canonical JSON walked. */
const slowKey = (prompt: AiPrompt.RawInput, settings?: Record<string, unknown>) =>
  cacheKey({ provider: "openai", model: "gpt", settings, prompt: encodeSlow(AiPrompt.make(prompt)) })

const tricky = "quote \" backslash \\ newline \n unicode \u00e9 \u2028 emoji 🦉 {\"role\":\"user\"}"
const prompts: ReadonlyArray<AiPrompt.RawInput> = [
  "hello",
  tricky,
  [{ role: "system", content: "You are terse." }, { role: "user", content: tricky }],
  [{ role: "user", content: "a" }, { role: "assistant", content: "b" }, { role: "user", content: "" }],
  // Not plain: a user message with parts takes the slow path.
  [{ role: "user", content: [{ type: "text", text: "parts" }] }]
]

describe("LlmCacheKey", () => {
  it("encodes plain prompts without the Prompt classes: the shortcut holds for this @effect/ai", () => {
    // False means the installed encoder changed shape: every hit pays ~25 µs more (README › Performance).
    expect(plainPromptShortcut).toBe(true)
  })

  it("encodes every prompt as the real Prompt encoder does", () => {
    for (const prompt of prompts) expect(encodePrompt(prompt)).toEqual(encodeSlow(AiPrompt.make(prompt)))
  })

  it("gives the full derivation's key, the first time and from the memo", () => {
    const keys = makeCallKeys()
    for (const settings of [undefined, { temperature: 0.2 }]) {
      for (const prompt of prompts) {
        const options = { prompt } as CallOptions
        const first = keys(options, model, settings, () => encodePrompt(prompt))
        expect(first).toBe(slowKey(prompt, settings))
        expect(keys(options, model, settings, () => encodePrompt(prompt))).toBe(first)
      }
    }
  })

  it("never lets one conversation pass for another in the memo", () => {
    const keys = makeCallKeys()
    const twoMessages: AiPrompt.RawInput = [{ role: "user", content: "a" }, { role: "user", content: "b" }]
    const oneMessage: AiPrompt.RawInput = [{ role: "user", content: "a\"user\"b" }]
    const system: AiPrompt.RawInput = [{ role: "system", content: "a" }, { role: "user", content: "b" }]
    const seen = new Set(
      [twoMessages, oneMessage, system, "a", "ab"].map((prompt) =>
        keys({ prompt } as CallOptions, model, undefined, () => encodePrompt(prompt))
      )
    )
    expect(seen.size).toBe(5)
  })
})
