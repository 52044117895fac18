/**
 * httpVariants — the llm-overhead variants that are not Effect programs: the raw global `fetch`
 * loop, undici `request`, and the Vercel AI SDK's `generateText` (a peer, with only its own
 * retries on: its default `maxRetries`). Each sends the shared prompt (system + user message) and
 * runs `calls` calls with `concurrency` callers per round.
 *
 * Connections: each variant keeps one pool for its whole life, across rounds, as the stack keeps
 * its own undici Agent. The fake server's keep-alive hint (60 s) outlasts the pause between a
 * variant's rounds, and the report counts the connections the server accepted per round to show it.
 */
import { createRequire } from "node:module"
import { createOpenAICompatible, VERSION as openaiCompatibleVersion } from "@ai-sdk/openai-compatible"
import { generateText } from "ai"
import { Agent, fetch as undiciFetch, request } from "undici"
import { type Load, pool, type Prepared } from "./measure.js"
import { chatMessages, KEY, MODEL, SYSTEM, userText } from "./promptShape.js"

const headers = { "content-type": "application/json", authorization: `Bearer ${KEY}` }
const body = (user: string) => JSON.stringify({ model: MODEL, messages: chatMessages(user) })

const textOf = (json: unknown): string => {
  const content = (json as { choices?: ReadonlyArray<{ message?: { content?: unknown } }> }).choices?.[0]?.message?.content
  if (typeof content !== "string") throw new Error("unexpected response")
  return content
}

/**
 * The raw global `fetch` loop. Its pool is Node's global dispatcher (the undici bundled with
 * Node), which lives as long as the process: kept across rounds.
 */
export const rawFetch = (openaiUrl: string, load: Load): Prepared => {
  const url = `${openaiUrl}/chat/completions`
  return {
    round: (round) =>
      pool(load.calls, load.concurrency, async (i) => {
        const res = await fetch(url, { method: "POST", headers, body: body(userText("fetch", round, i)) })
        if (res.status !== 200) throw new Error(`HTTP ${res.status}`)
        textOf(await res.json())
      }),
    dispose: async () => {}
  }
}

/**
 * undici `request` over one keep-alive Agent (its default: unlimited connections per origin),
 * made once and kept across rounds (a new Agent per round paid ~1,000 fresh connections a round).
 */
export const undiciRequest = (openaiUrl: string, load: Load): Prepared => {
  const url = `${openaiUrl}/chat/completions`
  const dispatcher = new Agent({ keepAliveTimeout: 60_000 })
  return {
    round: (round) =>
      pool(load.calls, load.concurrency, async (i) => {
        const res = await request(url, { method: "POST", headers, body: body(userText("undici", round, i)), dispatcher })
        if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`)
        textOf(await res.body.json())
      }),
    dispose: () => dispatcher.close()
  }
}

/** The AI SDK packages measured, as the report names them. */
export const aiSdkVersions = (): string => {
  const { version } = createRequire(import.meta.url)("ai/package.json") as { version: string }
  return `\`ai\` ${version} + \`@ai-sdk/openai-compatible\` ${openaiCompatibleVersion}`
}

/**
 * The AI SDK's `generateText` over `@ai-sdk/openai-compatible`, as its docs set it up. `transport`
 * "global" leaves the provider on the global `fetch` (its default: the same pool treatment as the
 * `fetch` row); "undici" hands it undici's `fetch` over one kept Agent like the `undici` row's.
 */
export const aiSdk = (openaiUrl: string, load: Load, transport: "global" | "undici"): Prepared => {
  const dispatcher = transport === "undici" ? new Agent({ keepAliveTimeout: 60_000 }) : undefined
  const provider = createOpenAICompatible({
    name: "bench",
    baseURL: openaiUrl,
    apiKey: KEY,
    ...(dispatcher === undefined ? {} : {
      // undici's fetch and the global one differ only in their types' origin (undici 7 vs Node's).
      fetch: ((input: string, init?: RequestInit) =>
        undiciFetch(input, { ...(init as object), dispatcher })) as unknown as typeof globalThis.fetch
    })
  })
  const model = provider.chatModel(MODEL)
  return {
    round: (round) =>
      pool(load.calls, load.concurrency, async (i) => {
        const result = await generateText({ model, system: SYSTEM, prompt: userText("ai-sdk", round, i) })
        if (result.text.length === 0) throw new Error("empty answer")
      }),
    dispose: async () => {
      await dispatcher?.close()
    }
  }
}
