/**
 * Agent — one role played by a language model: instructions, a typed input and a typed output.
 *
 * `Agent.make({...}).run(input)` is an ordinary Effect that needs `LanguageModel` from
 * `@effect/ai`, so a test swaps in a fake model Layer and a program swaps providers without the
 * agent changing. Structured outputs are decoded with the output Schema; when the model's answer
 * does not decode, the agent re-asks once with the parse error appended (repair) and then fails
 * with `OutputParseError`. Before every call it checks the run budget carried in `WorkflowContext`,
 * so a spent budget stops the run before money is spent, not after; the resilient layer then
 * reserves the call's worst-case cost and refuses it with `BudgetExceeded` when that does not fit.
 *
 * An agent given `tools` (an `@effect/ai` `Toolkit`) runs the tool loop of `ToolLoop` before it
 * answers; the toolkit's handlers (`toolkit.toLayer({...})`) and the errors of tools whose failure
 * mode is `"error"` appear in `run`'s type.
 */
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Prompt from "@effect/ai/Prompt"
import type * as Tool from "@effect/ai/Tool"
import type * as Toolkit from "@effect/ai/Toolkit"
import { Cause, Clock, Context, Effect, Either, Exit, FiberRef, Schema, Stream } from "effect"
import { tracedIn } from "../internal/tracing.js"
import * as Budget from "../services/Budget.js"
import * as Metrics from "../services/Metrics.js"
import * as WorkflowContext from "../services/WorkflowContext.js"
import { AgentError as AgentErrorSchema, type AgentError, BudgetExceeded, OutputParseError } from "./AgentError.js"
import * as AgentStream from "./AgentStream.js"
import { durably, durablyStreamed } from "./durableAgent.js"
import { ParseFailure, parseFailureOf, toCallError } from "./modelFailures.js"
import * as ToolLoop from "./ToolLoop.js"

/** What defines an agent. */
export interface AgentOptions<I, II, O, OI> {
  /** Bounded, human-readable name: it labels metrics, spans and step rows. */
  readonly name: string
  /** The system prompt. */
  readonly instructions: string
  /** Schema of the input; its encoded form is what the model sees. */
  readonly input: Schema.Schema<I, II>
  /** Schema of the structured output (encoding to a JSON object), or `"text"` for free text. */
  readonly output: Schema.Schema<O, OI> | "text"
  /** A model id to ask the LLM layer for instead of `LLM_MODEL`. */
  readonly model?: string | undefined
  readonly settings?: WorkflowContext.ModelSettings | undefined
  /** Renders the encoded input as the user message; default: strings as they are, else JSON. */
  readonly prompt?: ((input: I, encoded: II) => string) | undefined
}

/** What an agent with tools adds: the toolkit, and how far its tool loop may go. */
export interface ToolOptions<Tools extends Record<string, Tool.Any>> {
  /** The tools the model may call; their handlers come from `tools.toLayer({...})` in `run`'s context. */
  readonly tools?: Toolkit.Toolkit<Tools> | undefined
  /** Model calls at most before `MaxStepsExceeded` (default 10). */
  readonly maxSteps?: number | undefined
  /** Tool calls of one step running at once at most (default 4). */
  readonly toolConcurrency?: number | undefined
}

/** The errors an agent's tools add to `run`: those of tools whose failure mode is `"error"`. */
export type ToolErrors<Tools extends Record<string, Tool.Any>> = Tool.HandlerError<Tools[keyof Tools]>
/** The services an agent's tools add to `run`: their handlers and what the tools declare. */
export type ToolRequirements<Tools extends Record<string, Tool.Any>> =
  | Tool.HandlersFor<Tools>
  | Tool.Requirements<Tools[keyof Tools]>

/** A defined agent; `E` and `R` are what its tools add to `run` (nothing for an agent without tools). */
export interface Agent<I, O, E = never, R = never> {
  readonly name: string
  readonly instructions: string
  readonly model: string | undefined
  /**
   * Runs the agent once on `input`: up to two LLM calls when the first answer needs repair, plus
   * the steps of its tool loop when it has tools.
   */
  readonly run: (input: I) => Effect.Effect<O, AgentError | E, LanguageModel.LanguageModel | R>
}

/**
 * A free-text agent: also streams. Structured agents do not (a partial JSON value is no use to
 * anyone); they answer through `run`.
 */
export interface TextAgent<I> extends Agent<I, string> {
  /** The answer's text as it arrives (see `AgentStream`); joined, it is what `run` answers. */
  readonly stream: (input: I) => Stream.Stream<string, AgentError, LanguageModel.LanguageModel>
}

const renderInput = (encoded: unknown): string =>
  typeof encoded === "string" ? encoded : JSON.stringify(encoded, null, 2)

const repairMessage = (issues: string): string =>
  "Your previous answer did not match the required output format. The validator reported:\n" +
  issues +
  "\nAnswer again with only a JSON value that matches the required schema."

const FINAL_ANSWER = "Now give your final answer as only a JSON value that matches the required schema."

/**
 * `self`, unless the current run's budget is used up (spent or held): then `BudgetExceeded`. One
 * step when the run has no budget, as a tool loop asks this before each of its model calls.
 */
const withinBudget = <A, E, R>(agent: string, self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BudgetExceeded, R> =>
  Effect.withFiberRuntime((fiber) => {
    const budget = fiber.getFiberRef(WorkflowContext.ref).budget
    return budget === undefined ? self : Effect.zipRight(Budget.check(budget, agent), self)
  })

type Status = "success" | "error" | "cancelled"
const statusOf = <A, E>(exit: Exit.Exit<A, E>): Status =>
  Exit.isSuccess(exit) ? "success" : Cause.isInterruptedOnly(exit.cause) ? "cancelled" : "error"

/**
 * Ends a run of agent `agent` started at `start`: records `agent_executions_total` and
 * `agent_execution_duration_seconds` (their tags made once per agent, see `Metrics.fixedTags`) and
 * gives the fiber back the context `outer` that the agent's run replaced.
 */
const leaving = (agent: string) => {
  const of = (status: Status) => ({
    runs: Metrics.fixedTags(Metrics.agentExecutionsTotal, { agent, status }),
    duration: Metrics.fixedTags(Metrics.agentExecutionDurationSeconds, { agent, status })
  })
  const byStatus = { success: of("success"), error: of("error"), cancelled: of("cancelled") }
  return (start: number, exit: Exit.Exit<unknown, unknown>, outer: WorkflowContext.WorkflowContextValue): Effect.Effect<void> =>
    Effect.withFiberRuntime((fiber) => {
      const end = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
      const m = byStatus[statusOf(exit)]
      const labelled = Metrics.updateAllNow(fiber, [[m.runs, 1], [m.duration, (end - start) / 1000]])
      const restore = FiberRef.set(WorkflowContext.ref, outer)
      return labelled === undefined ? restore : Effect.zipRight(labelled, restore)
    })
}

/** Defines a structured-output agent. */
export function make<I, II, O, OI extends Record<string, unknown>, Tools extends Record<string, Tool.Any> = {}>(
  options: AgentOptions<I, II, O, OI> & ToolOptions<Tools> & { readonly output: Schema.Schema<O, OI> }
): Agent<I, O, ToolErrors<Tools>, ToolRequirements<Tools>>
/** Defines a free-text agent: `run` returns the model's text. */
/** Defines a free-text agent with tools: `run` returns the model's text after its tool loop. */
export function make<I, II, Tools extends Record<string, Tool.Any>>(
  options: AgentOptions<I, II, string, never> & ToolOptions<Tools> & {
    readonly output: "text"
    readonly tools: Toolkit.Toolkit<Tools>
  }
): Agent<I, string, ToolErrors<Tools>, ToolRequirements<Tools>>
/** Defines a free-text agent: `run` returns the model's text, `stream` the text as it arrives. */
export function make<I, II>(options: AgentOptions<I, II, string, never> & { readonly output: "text" }): TextAgent<I>
export function make<I, II, O, OI extends Record<string, unknown>, Tools extends Record<string, Tool.Any>>(
  options: AgentOptions<I, II, O, OI> & ToolOptions<Tools>
): Agent<I, O | string, ToolErrors<Tools>, ToolRequirements<Tools>> | TextAgent<I> {
  const { name, instructions } = options
  const modelLabel = options.model ?? "default"
  const encodeInput = Schema.encodeEither(options.input)

  /** One LLM call, after the budget check; failures mapped to `LlmError`. */
  const call = <A>(effect: Effect.Effect<A, unknown, LanguageModel.LanguageModel>) =>
    withinBudget(
      name,
      Effect.catchAll(effect, (error) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(toCallError(error, modelLabel, now))))
    )

  const generate = (
    messages: ReadonlyArray<Prompt.MessageEncoded>,
    toolkit?: Toolkit.WithHandler<Tools>
  ): Effect.Effect<O | string, AgentError, LanguageModel.LanguageModel> => {
    const output = options.output
    if (output === "text") {
      return Effect.map(call(LanguageModel.generateText({ prompt: messages })), (r) => r.text)
    }
    // A rejected answer comes back as a `ParseFailure` value; every other failure stays an error.
    const ask = (prompt: ReadonlyArray<Prompt.MessageEncoded>) =>
      call(
        // With tools, the final answer is asked with the tools still declared (providers want the
        // tools of a transcript's tool calls) but none callable.
        LanguageModel.generateObject({
          prompt,
          schema: output,
          objectName: objectNameOf(name),
          ...(toolkit === undefined ? {} : { toolkit, toolChoice: "none" as const, disableToolCallResolution: true as const })
        }).pipe(
          Effect.map((r): O | ParseFailure => r.value),
          Effect.catchAll((error) => {
            const failure = parseFailureOf(error)
            return failure === undefined ? Effect.fail(error) : Effect.succeed(new ParseFailure(failure))
          })
        )
      )
    return Effect.gen(function*() {
      const first = yield* ask(messages)
      if (!(first instanceof ParseFailure)) return first
      yield* Effect.logDebug(`agent ${name}: answer did not match its schema; asking once more`)
      const repair: Array<Prompt.MessageEncoded> = [...messages]
      if (first.raw.length > 0) repair.push({ role: "assistant", content: first.raw })
      repair.push({ role: "user", content: repairMessage(first.issues) })
      const second = yield* ask(repair)
      if (!(second instanceof ParseFailure)) return second
      return yield* new OutputParseError({ agent: name, raw: second.raw, issues: second.issues })
    })
  }

  // Sound: a text agent's answer is a string; a structured one's is what its Schema decodes; its
  // failures are an AgentError or what its tools' failure Schemas describe.
  const storedOutput = (options.output === "text" ? Schema.String : options.output) as Schema.Schema<O | string, unknown>
  const storedErrors = Schema.Union(
    AgentErrorSchema,
    ...Object.values(options.tools?.tools ?? {}).map((tool) => tool.failureSchema)
  ) as Schema.Schema<AgentError | ToolErrors<Tools>, unknown>
  const tools = options.tools
  const loopOptions: ToolLoop.Options = {
    agent: name,
    maxSteps: options.maxSteps ?? ToolLoop.DEFAULT_MAX_STEPS,
    concurrency: options.toolConcurrency ?? ToolLoop.DEFAULT_CONCURRENCY
  }
  const decodeFinal = options.output === "text" ? undefined : Schema.decodeUnknownEither(Schema.parseJson(options.output))

  /** The tool loop, then the answer: its text, or its JSON when it decodes, else asked for once more. */
  const generateWithTools = (toolkit: Toolkit.Toolkit<Tools>, messages: ReadonlyArray<Prompt.MessageEncoded>) =>
    Effect.gen(function*() {
      const handlers = yield* toolkit
      const ask = (prompt: ReadonlyArray<Prompt.MessageEncoded>) =>
        call(LanguageModel.generateText({ prompt, toolkit: handlers, disableToolCallResolution: true }))
      const { text, transcript } = yield* ToolLoop.run(handlers, messages, ask, loopOptions)
      if (decodeFinal === undefined) return text
      const decoded = decodeFinal(text)
      if (Either.isRight(decoded)) return decoded.right
      return yield* generate([...transcript, { role: "user", content: FINAL_ANSWER }], handlers)
    })

  const scope = { model: options.model, settings: options.settings }
  type Run = Effect.Effect<O | string, AgentError | ToolErrors<Tools>, LanguageModel.LanguageModel | ToolRequirements<Tools>>
  // The input is the caller's typed value: one its own Schema cannot encode is a defect.
  const promptOf = <A, E, R>(
    input: I,
    f: (encoded: II, messages: ReadonlyArray<Prompt.MessageEncoded>) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      const encoded = encodeInput(input)
      if (Either.isLeft(encoded)) return Effect.die(encoded.left)
      const user = options.prompt !== undefined ? options.prompt(input, encoded.right) : renderInput(encoded.right)
      return f(encoded.right, [{ role: "system", content: instructions }, { role: "user", content: user }])
    })
  const body = (input: I): Run =>
    promptOf(input, (encoded, messages) => {
      const answer = tools === undefined ? generate(messages) : generateWithTools(tools, messages)
      return durably(name, { encodedInput: encoded, model: options.model }, storedOutput, storedErrors, answer)
    })

  // Made once per agent; `gen_ai.agent.name` is the OpenTelemetry GenAI name of the same thing.
  const spanOptions = { attributes: { "agent.name": name, "agent.model": modelLabel, "gen_ai.agent.name": name } }
  const leave = leaving(name)
  // The agent's context and its metrics share one region, held open while the agent runs.
  const run = (input: I): Run =>
    Effect.withFiberRuntime((fiber) => {
      const start = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
      return tracedIn(fiber, `Agent.${name}`, spanOptions, () =>
        Effect.acquireUseRelease(
          WorkflowContext.enterAgent(name, scope),
          () => body(input),
          (outer, exit) => leave(start, exit, outer)
        ))
    })

  if (options.output !== "text" || tools !== undefined) return { name, instructions, model: options.model, run }
  const stream = (input: I) =>
    Stream.unwrap(promptOf(input, (encoded) =>
      Effect.succeed(durablyStreamed(name, { encodedInput: encoded, model: options.model }, AgentErrorSchema, streamLive(input)))))
  const streamLive = (input: I) =>
    AgentStream.stream({
      enter: WorkflowContext.enterAgent(name, scope),
      messages: withinBudget(name, promptOf(input, (_, messages) => Effect.succeed(messages))),
      failure: (error) => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(toCallError(error, modelLabel, now))),
      span: { name: `Agent.${name}`, options: spanOptions },
      leave
    })
  return { name, instructions, model: options.model, run: run as (input: I) => Effect.Effect<string, AgentError, LanguageModel.LanguageModel>, stream }
}

/** Providers want an identifier-like object name. */
const objectNameOf = (agent: string): string => agent.replace(/[^A-Za-z0-9_-]+/g, "_") || "output"
