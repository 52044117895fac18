/**
 * AgentError — every way an agent run can fail.
 *
 * An agent fails with an `LlmError` when the call itself failed (after the resilient layer's
 * retries), with `OutputParseError` when the model twice answered something the output Schema
 * rejects, and with `BudgetExceeded` when the run's budget has no room for the next call. All are
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

/** Every failure of `agent.run`. */
export type AgentError = LlmError | OutputParseError | BudgetExceeded

/** The schema of `AgentError`, for serialising failures. */
export const AgentError = Schema.Union(LlmError, OutputParseError, BudgetExceeded)
