/**
 * Recovery — the rest of a call whose first attempt failed: its retries (`Retry`) on each model of
 * its chain in turn (`Fallback`), announced through `CallTelemetry`. Shared by answers and streams
 * (a stream is recovered only until its first token).
 */
import type { NonEmptyReadonlyArray } from "effect/Array"
import { Effect } from "effect"
import type { LlmError } from "../services/LlmError.js"
import type { ModelRef } from "../services/ModelFactory.js"
import type { Count } from "./Attempt.js"
import type { Call } from "./Call.js"
import type { CallTelemetry } from "./CallTelemetry.js"
import { withFallbacks } from "./Fallback.js"
import * as Retry from "./Retry.js"

/** What a recovered call got, and from which model. */
export interface Recovered<A> {
  readonly value: A
  readonly model: ModelRef
}

/** One attempt of `call` on `model`, counted in `count`. */
export type AttemptOf<A> = (call: Call, model: ModelRef, count: Count) => Effect.Effect<A, LlmError>

/** Recovers calls of `attempt` after their first failure `first`. */
export type Recover<A> = (call: Call, count: Count, first: LlmError) => Effect.Effect<Recovered<A>, LlmError>

export const make = (
  policy: Retry.RetryPolicy,
  telemetry: CallTelemetry,
  chainOf: (call: Call) => NonEmptyReadonlyArray<ModelRef>
) =>
<A>(attempt: AttemptOf<A>): Recover<A> =>
(call, count, first) => {
  const onModel = (model: ModelRef) =>
    Effect.map(
      Retry.retryLlm(attempt(call, model, count), policy, {
        startedAt: call.started,
        ...(model === call.model ? { firstFailure: { error: first } } : {}),
        onRetry: (info) => telemetry.retrying(call, model, info, count.attempts)
      }),
      (value): Recovered<A> => ({ value, model })
    )
  return withFallbacks(chainOf(call), onModel, (from, to, error) => telemetry.fallingBack(from, to, error, count.attempts))
}
