/**
 * ToolLoop — how an agent with tools reaches its answer: model → tool calls → results back to the
 * model → … until the model answers without calling a tool, or `maxSteps` model calls have been made.
 *
 * The model is asked with `disableToolCallResolution`, and the calls it makes are run here rather
 * than by `LanguageModel` itself: each call becomes events, metrics and a span (`ToolCall`), the
 * independent calls of one step run concurrently under a bound, and no handler runs inside a
 * provider attempt (where a retry would run it twice and the attempt's deadline would cut it).
 * Because no handler runs inside the call, each model call is an ordinary cacheable request whose
 * key covers the tools offered and the tool results in the prompt.
 */
import type * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Prompt from "@effect/ai/Prompt"
import type * as Response from "@effect/ai/Response"
import type * as Tool from "@effect/ai/Tool"
import type * as Toolkit from "@effect/ai/Toolkit"
import { Effect } from "effect"
import { MaxStepsExceeded } from "./AgentError.js"
import * as ToolCall from "./ToolCall.js"

/** How the loop runs. */
export interface Options {
  readonly agent: string
  /** Model calls at most (default 10). */
  readonly maxSteps: number
  /** Tool calls of one step run at most this many at a time (default 4). */
  readonly concurrency: number
}

/** Default `maxSteps` of an agent with tools. */
export const DEFAULT_MAX_STEPS = 10
/** Default bound on the tool calls of one step running at once. */
export const DEFAULT_CONCURRENCY = 4

/** The final answer and the whole conversation that led to it. */
export interface Outcome {
  readonly text: string
  readonly transcript: ReadonlyArray<Prompt.MessageEncoded>
}

/** One model call with the tools offered: the agent's own `call` (budget check, error mapping) around it. */
export type Ask<E, R> = (
  prompt: ReadonlyArray<Prompt.MessageEncoded>
) => Effect.Effect<LanguageModel.GenerateTextResponse<any>, E, R>

/**
 * The assistant message of a response: its text and its tool calls (arguments re-encoded, since
 * parts arrive decoded), and the calls to run.
 */
const assistantTurn = (
  tools: Record<string, Tool.Any>,
  content: ReadonlyArray<Response.AnyPart>
): { readonly message: Prompt.AssistantMessageEncoded; readonly calls: ReadonlyArray<ToolCall.Request> } => {
  const parts: Array<Prompt.AssistantMessagePartEncoded> = []
  const calls: Array<ToolCall.Request> = []
  for (const part of content) {
    if (part.type === "text" && part.text.length > 0) parts.push({ type: "text", text: part.text })
    else if (part.type === "tool-call" && part.providerExecuted !== true) {
      const params = ToolCall.encodeParams(tools, part.name, part.params)
      parts.push({ type: "tool-call", id: part.id, name: part.name, params, providerExecuted: false })
      calls.push({ id: part.id, name: part.name, params })
    }
  }
  return { message: { role: "assistant", content: parts }, calls }
}

/** Runs the loop from `prompt` until the model answers without calling a tool. */
export const run = <Tools extends Record<string, Tool.Any>, E, R>(
  toolkit: Toolkit.WithHandler<Tools>,
  prompt: ReadonlyArray<Prompt.MessageEncoded>,
  ask: Ask<E, R>,
  options: Options
): Effect.Effect<
  Outcome,
  E | MaxStepsExceeded | Tool.HandlerError<Tools[keyof Tools]>,
  R | Tool.Requirements<Tools[keyof Tools]>
> =>
  Effect.gen(function*() {
    const transcript: Array<Prompt.MessageEncoded> = [...prompt]
    for (let step = 1; step <= options.maxSteps; step++) {
      const response = yield* ask(transcript)
      const { calls, message } = assistantTurn(toolkit.tools, response.content)
      if (calls.length === 0) {
        if (response.text.length > 0) transcript.push({ role: "assistant", content: response.text })
        return { text: response.text, transcript }
      }
      transcript.push(message)
      if (step === options.maxSteps) break
      // A lone call runs in this fiber: forking one costs more than most tools.
      const results = calls.length === 1
        ? [yield* ToolCall.run(options.agent, toolkit, calls[0]!)]
        : yield* Effect.forEach(calls, (call) => ToolCall.run(options.agent, toolkit, call), { concurrency: options.concurrency })
      transcript.push({ role: "tool", content: results })
    }
    return yield* new MaxStepsExceeded({ agent: options.agent, maxSteps: options.maxSteps, transcript })
  })
