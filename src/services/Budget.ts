/**
 * Budget — a run's spending limit, held against its LLM calls while they are in flight.
 *
 * A budgeted run's calls reserve their worst-case cost before they reach the provider and settle
 * after it answered: the actual cost goes into the run's tally, then the reservation is released.
 * A call whose reservation would take spent + reserved past the budget fails with `BudgetExceeded`
 * without being made. Calls running side by side therefore cannot together overshoot: the spend
 * passes the budget only when a call costs more than its estimate (a provider that ignores the
 * max output tokens, a prompt that tokenises denser than estimated), and then `overrun` says so
 * at the end of the run.
 *
 * The spent side is the run's `Tally`, which the LLM layer adds every finished call to; the
 * reserved side is a `Ref`. Check-and-reserve is one `Ref.modify` that reads both, so no two calls
 * can take the same room.
 */
import { Effect, Ref, Schema } from "effect"
import { costAt, type ModelPrice } from "./Pricing.js"
import type { Tally } from "./WorkflowContext.js"

/**
 * The output tokens a call is assumed to produce when its agent sets no `maxOutputTokens`. The
 * provider is not told this limit, so such a call can cost more than its reservation.
 */
export const defaultMaxOutputTokens = 4096

/** Sums of float prices are not exact; a trillionth of a dollar is noise, not spending. */
const EPSILON_USD = 1e-12

const usd = (value: number): string => `$${value.toFixed(6)}`

/**
 * A run's budget stopped an LLM call, or was passed. With `estimateUsd`: `agent`'s call (at most
 * that much; 0 when its price is unknown) did not fit beside `spentUsd` and the `reservedUsd` of
 * the calls in flight, and was not made. Without it, `spentUsd` above `maxCostUsd`: the run spent
 * more than its budget because `agent`'s call cost more than it reserved, so the run does not
 * count as succeeded.
 */
export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>()("BudgetExceeded", {
  agent: Schema.String,
  runId: Schema.optional(Schema.String),
  spentUsd: Schema.Number,
  maxCostUsd: Schema.Number,
  /** What the run's calls in flight held when this call was refused. */
  reservedUsd: Schema.optional(Schema.Number),
  /** The refused call's worst-case cost. */
  estimateUsd: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    const budget = `budget of $${this.maxCostUsd}`
    if (this.estimateUsd !== undefined) {
      const held = this.reservedUsd !== undefined && this.reservedUsd > 0
        ? ` + ${usd(this.reservedUsd)} held by calls in flight`
        : ""
      const call = this.estimateUsd > 0 ? ` (up to ${usd(this.estimateUsd)})` : ""
      const hint = this.estimateUsd > 0 ? ". A lower maxOutputTokens reserves less" : ""
      return `${budget}: ${usd(this.spentUsd)} spent${held} leaves no room for agent ${this.agent}'s next call${call}; ` +
        `it was not made${hint}`
    }
    if (this.spentUsd > this.maxCostUsd) {
      return `${budget} overspent: ${usd(this.spentUsd)}; agent ${this.agent}'s call cost more than it reserved`
    }
    return `${budget} spent (${usd(this.spentUsd)}); agent ${this.agent} made no further call`
  }
}

/** What a run's calls hold against its budget. */
export interface State {
  /** USD held by the calls in flight. */
  readonly reservedUsd: number
  /** The agent whose call first took the spend past the budget. */
  readonly overrunBy: string | undefined
}

/** The budget of one run. */
export interface RunBudget {
  readonly maxCostUsd: number
  readonly runId: string | undefined
  /** The run's tally: its `costUsd` is what the finished calls cost. */
  readonly spent: Tally
  readonly state: Ref.Ref<State>
}

/** A budget of `maxCostUsd` over the run whose calls `spent` counts. */
export const make = (maxCostUsd: number, runId: string | undefined, spent: Tally): Effect.Effect<RunBudget> =>
  Effect.map(Ref.make<State>({ reservedUsd: 0, overrunBy: undefined }), (state) => ({ maxCostUsd, runId, spent, state }))

/** A reservation held by a call in flight; `settle` it once the call's cost is in the tally. */
export interface Hold {
  readonly budget: RunBudget
  readonly agent: string
  readonly estimateUsd: number
}

/**
 * Reserves `estimateUsd` for a call of `agent`, or fails with `BudgetExceeded` when it does not
 * fit beside what is spent and held. A call with no estimate (a model without a price) reserves
 * nothing and is refused only once the budget is used up.
 */
export const reserve = (budget: RunBudget, agent: string, estimateUsd: number): Effect.Effect<Hold, BudgetExceeded> =>
  Effect.flatten(Ref.modify(budget.state, (state): [Effect.Effect<Hold, BudgetExceeded>, State] => {
    const spentUsd = budget.spent.costUsd
    const room = budget.maxCostUsd - spentUsd - state.reservedUsd
    if (room <= 0 || estimateUsd > room + EPSILON_USD) {
      const refused = new BudgetExceeded({
        agent,
        ...(budget.runId === undefined ? {} : { runId: budget.runId }),
        spentUsd,
        maxCostUsd: budget.maxCostUsd,
        reservedUsd: state.reservedUsd,
        estimateUsd
      })
      return [Effect.fail(refused), state]
    }
    return [Effect.succeed({ budget, agent, estimateUsd }), { ...state, reservedUsd: state.reservedUsd + estimateUsd }]
  }))

/** Fails with `BudgetExceeded` when the budget is used up (spent, or held by calls in flight). */
export const check = (budget: RunBudget, agent: string): Effect.Effect<void, BudgetExceeded> =>
  Effect.asVoid(reserve(budget, agent, 0))

/**
 * Releases a call's reservation. Its actual cost must already be in the tally, so the budget never
 * counts less than is committed; a cost above the budget remembers who passed it.
 */
export const settle = (hold: Hold): Effect.Effect<void> =>
  Ref.update(hold.budget.state, (state) => {
    const left = state.reservedUsd - hold.estimateUsd
    return {
      // What float subtraction leaves of released reservations is not a reservation.
      reservedUsd: left > EPSILON_USD ? left : 0,
      overrunBy: state.overrunBy ??
        (hold.budget.spent.costUsd > hold.budget.maxCostUsd + EPSILON_USD ? hold.agent : undefined)
    }
  })

/** Fails with `BudgetExceeded` when the run spent more than its budget. */
export const overrun = (budget: RunBudget): Effect.Effect<void, BudgetExceeded> =>
  Effect.flatMap(Ref.get(budget.state), (state) => {
    const spentUsd = budget.spent.costUsd
    if (spentUsd <= budget.maxCostUsd + EPSILON_USD) return Effect.void
    return Effect.fail(
      new BudgetExceeded({
        agent: state.overrunBy ?? "none",
        ...(budget.runId === undefined ? {} : { runId: budget.runId }),
        spentUsd,
        maxCostUsd: budget.maxCostUsd
      })
    )
  })

/**
 * A call's worst-case cost at `price`: its prompt (estimated tokens) and its whole output allowance,
 * `maxOutputTokens` or `defaultMaxOutputTokens`.
 */
export const estimateUsd = (price: ModelPrice, promptTokens: number, maxOutputTokens?: number | undefined): number =>
  costAt(price, { inputTokens: promptTokens, outputTokens: maxOutputTokens ?? defaultMaxOutputTokens })
