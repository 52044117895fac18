/**
 * promptShape — the one request every llm-overhead variant sends (model, key, and a prompt of a
 * system message and a user message), and the check the fake server applies to every request
 * body, so a variant that sends anything else fails the benchmark instead of being timed on a
 * different request.
 */
import { MODEL } from "../test/support/resilientStack.js"

/** The model id every variant asks for: the stack's own model. */
export { MODEL }

/** The API key every variant sends (the fake accepts any). */
export const KEY = "sk-bench-key"

/** The system message of every call. */
export const SYSTEM = "You are a terse assistant. Answer in one sentence."

/** The user message of call `i` of `round` by `variant`: unique, so the stack's cache always misses. */
export const userText = (variant: string, round: number, i: number): string =>
  `Say something about item ${i} of round ${round} (${variant}).`

/** The chat-completions `messages` of one call, as the plain HTTP variants send them. */
export const chatMessages = (user: string) => [
  { role: "system", content: SYSTEM },
  { role: "user", content: user }
] as const

/**
 * What is wrong with a request body, or `undefined` when it is the expected shape: `model`, then
 * exactly a system message with `SYSTEM` and a user message with non-empty text, both plain
 * strings (what every client sends for a lone text part).
 */
export const promptProblem = (body: unknown): string | undefined => {
  if (typeof body !== "object" || body === null) return "the body is not a JSON object"
  const { messages, model } = body as { messages?: unknown; model?: unknown }
  if (model !== MODEL) return `model is ${JSON.stringify(model)}, not ${JSON.stringify(MODEL)}`
  if (!Array.isArray(messages)) return "no messages array"
  const shape = JSON.stringify(messages).slice(0, 300)
  if (messages.length !== 2) return `${messages.length} messages, not 2 (system + user): ${shape}`
  const [system, user] = messages as Array<{ role?: unknown; content?: unknown }>
  if (system?.role !== "system" || system.content !== SYSTEM) return `the first message is not the system message: ${shape}`
  if (user?.role !== "user" || typeof user.content !== "string" || user.content.length === 0) {
    return `the second message is not a user text: ${shape}`
  }
  return undefined
}
