/**
 * The simulated provider's fault mix: what each call does — answer, 429 with `Retry-After`,
 * 500/503, or hang — and how long it takes, drawn from a stream seeded by the provider's seed.
 *
 * One draw per call, so retries of the same prompt can succeed; the same seed gives the same
 * sequence of outcomes on every run.
 */
import { fnv1a, seededRandom } from "./seededRandom.js"

/** What one simulated call does. */
export type Outcome =
  | { readonly _tag: "Ok"; readonly latencyMs: number }
  | { readonly _tag: "RateLimited"; readonly latencyMs: number; readonly retryAfterSeconds: number }
  | { readonly _tag: "ServerError"; readonly latencyMs: number; readonly status: 500 | 503 }
  | { readonly _tag: "Hang" }

/** The shares and latency of a fault mix (see `LlmSimulated.Options`). */
export interface FaultMix {
  readonly seed: number
  readonly latencyMs: number
  readonly errorRate: number
  readonly rateLimitRate: number
  readonly timeoutShare?: number | undefined
}

/**
 * The outcome of each next call. A plain seeded PRNG rather than Effect's `Random`: a call's three
 * draws are taken in one synchronous step, so concurrent calls never interleave them.
 */
export const makeDraw = (mix: FaultMix): () => Outcome => {
  const draw = seededRandom(fnv1a(`faults:${mix.seed | 0}`))
  const rateLimitRate = Math.max(0, Math.min(1, mix.rateLimitRate))
  const errorRate = Math.max(0, Math.min(1 - rateLimitRate, mix.errorRate))
  const timeoutShare = Math.max(0, Math.min(1, mix.timeoutShare ?? 0.2))
  return () => {
    const r = draw()
    const jitter = draw()
    const detail = draw()
    const latencyMs = Math.round(mix.latencyMs * (0.5 + jitter))
    if (r < rateLimitRate) {
      return { _tag: "RateLimited", latencyMs: Math.round(latencyMs / 10), retryAfterSeconds: 1 + Math.floor(detail * 3) }
    }
    if (r < rateLimitRate + errorRate) {
      const e = (r - rateLimitRate) / errorRate
      if (e < timeoutShare) return { _tag: "Hang" }
      return { _tag: "ServerError", latencyMs, status: detail < 0.5 ? 500 : 503 }
    }
    return { _tag: "Ok", latencyMs }
  }
}
