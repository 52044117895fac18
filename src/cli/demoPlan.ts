/**
 * The demo's plan: which workflow each demo run uses, on what input, and which runs are made to
 * show a failure or a cancellation. Pure and deterministic per seed, so tests can tell which runs
 * get a tiny budget (they end in `BudgetExceeded`) and which are cancelled while running (recorded
 * `cancelled`, as `x` does).
 */
import { makeDemoInputs } from "./demoInputs.js"

/** Every this many runs, one gets a budget it is bound to exceed. */
export const BUDGET_EVERY = 9
/** Every this many runs, one is cancelled while it runs. */
export const CANCEL_EVERY = 7
/** A budget any run with more than one LLM call exceeds: it is spent by the first answer. */
export const TINY_BUDGET_USD = 0.000001
/** How long a run to cancel is left running first. */
export const CANCEL_AFTER_MS = 1500

// The first of each comes early, so a newcomer sees them within seconds.
const BUDGET_OFFSET = 5
const CANCEL_OFFSET = 3

/** One demo run. */
export interface DemoRun {
  readonly workflow: string
  readonly input: string
  /** Set on the runs meant to end in `BudgetExceeded`. */
  readonly maxCostUsd?: number
  /** Set on the runs to cancel: milliseconds after their start. */
  readonly cancelAfterMs?: number
}

/** Gives the demo runs in order; `next()` the following one. */
export interface DemoPlan {
  readonly next: () => DemoRun
}

/**
 * The plan over `workflows` (rotated in order) for `seed`. A run to cancel or to overspend gets
 * a fresh input, so the cache cannot finish it first; it uses the workflow named in `longest`
 * (the one with the most LLM calls) when it is among `workflows`.
 */
export const makeDemoPlan = (
  seed: number,
  workflows: ReadonlyArray<string>,
  longest: { readonly budget: string; readonly cancel: string } = { budget: "research", cancel: "code" }
): DemoPlan => {
  const inputs = makeDemoInputs(seed)
  const pick = (preferred: string, fallback: string) => (workflows.includes(preferred) ? preferred : fallback)
  let n = 0
  return {
    next: () => {
      const i = n++
      const rotated = workflows[i % Math.max(1, workflows.length)] ?? "summarize"
      if (i % BUDGET_EVERY === BUDGET_OFFSET) {
        const workflow = pick(longest.budget, rotated)
        return { workflow, input: inputs.next(workflow, { fresh: true }), maxCostUsd: TINY_BUDGET_USD }
      }
      if (i % CANCEL_EVERY === CANCEL_OFFSET) {
        const workflow = pick(longest.cancel, rotated)
        return { workflow, input: inputs.next(workflow, { fresh: true }), cancelAfterMs: CANCEL_AFTER_MS }
      }
      return { workflow: rotated, input: inputs.next(rotated) }
    }
  }
}
