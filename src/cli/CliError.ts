/**
 * Errors of the CLI itself and its exit codes: 0 success, 1 a workflow failed,
 * 2 bad usage or configuration, 130 interrupted (143 for SIGTERM, 129 for SIGHUP, see `signals.ts`).
 */
import { Data } from "effect"

/** Bad usage the argument parser cannot see (an unknown workflow, a malformed batch line...). */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** A workflow run ended failed or cancelled; its typed error is in `error`. */
export class WorkflowFailed extends Data.TaggedError("WorkflowFailed")<{
  readonly runId: string
  readonly status: string
  readonly error: { readonly tag: string; readonly message: string } | undefined
}> {
  override get message(): string {
    return this.error === undefined
      ? `run ${this.runId} ${this.status}`
      : `run ${this.runId} ${this.status}: ${this.error.tag}: ${this.error.message}`
  }
}

/**
 * The user stopped the command before its runs finished (`q` or Ctrl-C in the dashboard); what
 * did finish has been reported. Exit 130, as for SIGINT.
 */
export class Interrupted extends Data.TaggedError("Interrupted")<{ readonly message: string }> {}

/** Exit codes of the CLI; a signal ends it with 130 (SIGINT), 143 (SIGTERM) or 129 (SIGHUP), see `signals.ts`. */
export const ExitCode = {
  success: 0,
  failed: 1,
  usage: 2,
  interrupted: 130
} as const

/** Errors that mean "fix your command line or configuration" (exit 2). */
const usageTags = new Set([
  "UsageError",
  "DuplicateWorkflow",
  "InvalidConfig",
  "MetricsServerError",
  "PricingFileError",
  "RunHistoryError",
  "WorkflowInputError",
  "TokenRequired",
  "ListenError",
  "ServerUnreachable",
  "Unauthorized"
])

/** The exit code for a failure with this `_tag`. */
export const exitCodeFor = (tag: string): number =>
  tag === "Interrupted" ? ExitCode.interrupted : usageTags.has(tag) ? ExitCode.usage : ExitCode.failed
