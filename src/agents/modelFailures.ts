/**
 * modelFailures — what an agent makes of its model's failures: an answer the output Schema
 * rejected (`parseFailureOf`, kept as a `ParseFailure` value for the repair turn), and every other
 * failure as the `LlmError` or `BudgetExceeded` it stands for (`toCallError`), whether it came
 * from the resilient layer (wrapped in an `AiError`) or from a bare provider layer.
 */
import * as AiError from "@effect/ai/AiError"
import { ParseResult } from "effect"
import { fromAiError, type LlmError } from "../services/LlmError.js"
import { BudgetExceeded } from "./AgentError.js"

const RAW_LIMIT = 64 * 1024

const LLM_ERROR_TAGS: ReadonlySet<string> = new Set([
  "RateLimited",
  "ProviderUnavailable",
  "Timeout",
  "CircuitOpen",
  "Unauthorized",
  "BadRequest",
  "MalformedResponse",
  "RetryBudgetExceeded",
  "StreamInterrupted"
])

/** A model answer that did not decode: what was said and why it was rejected. */
export class ParseFailure {
  readonly raw: string
  readonly issues: string
  constructor(fields: { readonly raw: string; readonly issues: string }) {
    this.raw = fields.raw
    this.issues = fields.issues
  }
}

/**
 * Recognises an answer the output Schema rejected. `LanguageModel.generateObject` reports it as
 * `AiError.MalformedOutput` with the `ParseError` (whose `actual` is the raw text) as cause; the
 * resilient layer may already have mapped it to `MalformedResponse`.
 */
export const parseFailureOf = (error: unknown): { readonly raw: string; readonly issues: string } | undefined => {
  // The resilient layer carries its LlmError inside an AiError (see `toAiError`).
  if (AiError.isAiError(error) && error._tag === "UnknownError" && isLlmError(error.cause)) {
    return parseFailureOf(error.cause)
  }
  if (AiError.isAiError(error) && error._tag === "MalformedOutput") {
    const cause = error.cause
    if (ParseResult.isParseError(cause)) {
      const actual = cause.issue.actual
      return {
        raw: (typeof actual === "string" ? actual : JSON.stringify(actual) ?? "").slice(0, RAW_LIMIT),
        issues: ParseResult.TreeFormatter.formatErrorSync(cause)
      }
    }
    return { raw: "", issues: error.description ?? "no object was generated" }
  }
  if (isLlmError(error) && error._tag === "MalformedResponse") return { raw: error.raw, issues: error.detail }
  return undefined
}

const isLlmError = (error: unknown): error is LlmError =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string" &&
  LLM_ERROR_TAGS.has(error._tag) && !AiError.isAiError(error)

/**
 * Maps whatever the language model failed with to an `LlmError`, or the `BudgetExceeded` of a call
 * the resilient layer refused (carried in an `AiError`, see `toAiError`); a bare provider layer
 * fails with `AiError`, mapped here with `fromAiError`.
 */
export const toCallError = (error: unknown, model: string, nowMs: number): LlmError | BudgetExceeded => {
  if (isLlmError(error)) return error
  if (AiError.isAiError(error) && error._tag === "UnknownError" && error.cause instanceof BudgetExceeded) return error.cause
  if (AiError.isAiError(error)) return fromAiError(error, { provider: "unknown", model }, nowMs)
  throw error // unreachable for LanguageModel; surfaces as a defect rather than a wrong tag
}
