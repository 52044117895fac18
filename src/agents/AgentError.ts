/**
 * AgentError — every way an agent run can fail.
 *
 * An agent fails with an `LlmError` when the call itself failed (after the resilient layer's
 * retries), with `OutputParseError` when the model twice answered something the output Schema
 * rejects, with `MaxStepsExceeded` when an agent with tools is still calling them after its last
 * step, and with `BudgetExceeded` when the run's budget has no room for the next call. All are
 * `Schema.TaggedError`s, so they serialise into the run history and the API unchanged.
 */
import { Schema } from "effect"
import { BudgetExceeded } from "../services/Budget.js"
import { LlmError } from "../services/LlmError.js"

/** The run's budget had no room for the call (see `Budget`); defined beside the reservations. */
export { BudgetExceeded }

/** The model's answer did not decode with the agent's output Schema, even after one repair. */
export class OutputParseError extends Schema.TaggedError<OutputParseError>()("OutputParseError", {
  agent: Schema.String,
  /** The last answer, as the model sent it (bounded to 64 KiB). */
  raw: Schema.String,
  /** Why it was rejected, as Effect's tree formatter renders the parse issues. */
  issues: Schema.String
}) {
  override get message(): string {
    return `agent ${this.agent} answered output that does not match its schema: ${this.issues}`
  }
}

/**
 * An agent with tools was still calling tools after `maxSteps` model calls. `transcript` is the
 * conversation so far (encoded prompt messages, the last one holding the unanswered tool calls).
 */
export class MaxStepsExceeded extends Schema.TaggedError<MaxStepsExceeded>()("MaxStepsExceeded", {
  agent: Schema.String,
  maxSteps: Schema.Number,
  transcript: Schema.Array(Schema.Unknown)
}) {
  override get message(): string {
    return `agent ${this.agent} was still calling tools after ${this.maxSteps} steps`
  }
}

/** Every failure of `agent.run` (an agent with tools also fails with the errors of its tools). */
export type AgentError = LlmError | OutputParseError | BudgetExceeded | MaxStepsExceeded

/** The schema of `AgentError`, for serialising failures. */
export const AgentError = Schema.Union(LlmError, OutputParseError, BudgetExceeded, MaxStepsExceeded)
