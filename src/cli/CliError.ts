/**
 * Errors of the CLI itself and the exit codes of DESIGN.md: 0 success, 1 a workflow failed,
 * 2 bad usage or configuration, 130 interrupted.
 */
import { Data } from "effect"

/** Bad usage the argument parser cannot see (an unknown workflow, a malformed batch line...). */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

export const ExitCode = {
  success: 0,
  failed: 1,
  usage: 2,
  interrupted: 130
} as const
