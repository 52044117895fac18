/**
 * Reservation — a call's worst-case cost, held against its run's budget while the provider works.
 *
 * The stage runs after the cache (a hit costs nothing and reserves nothing) and before
 * single-flight, the limiter and the attempts, so a call the budget refuses takes no permit and
 * reaches no provider. The estimate is the prompt's tokens (`Call.tokens`: its encoded size / 4)
 * plus the agent's `maxOutputTokens` (else `Budget.defaultMaxOutputTokens`), priced for the
 * dearest model the call may end on, its own or a fallback; retries need no more, as only an
 * answer is paid for. A model without a price reserves nothing: its calls cost 0 unless the
 * provider reports a cost. The reservation is settled however the call ends; by then its cost is
 * in the run's tally (`CallTelemetry.finished`), so the budget never counts less than is spent.
 */
import { Effect, Option, type Scope } from "effect"
import * as Budget from "../services/Budget.js"
import type { ModelRef } from "../services/ModelFactory.js"
import type { PricingService } from "../services/Pricing.js"
import type { Call } from "./Call.js"

/** Runs `self`, the provider's part of `call`, under a reservation. */
export type Reservation = <A, E>(call: Call, self: Effect.Effect<A, E>) => Effect.Effect<A, E | Budget.BudgetExceeded>

/** Holds `call`'s reservation until the scope closes (a stream's: until it ends). */
export type ScopedReservation = (call: Call) => Effect.Effect<void, Budget.BudgetExceeded, Scope.Scope>

/**
 * Reservations priced by `pricing` for the models of `chainOf(call)`; calls outside a budgeted
 * run pass straight through.
 */
export const make = (
  pricing: PricingService,
  chainOf: (call: Call) => ReadonlyArray<ModelRef>
): Reservation & { readonly scoped: ScopedReservation } => {
  const hold = (call: Call, budget: Budget.RunBudget) => {
    const maxOutputTokens = call.ctx.settings?.maxOutputTokens
    const estimate = Effect.map(
      Effect.forEach(chainOf(call), (model) => pricing.price(model.label)),
      (prices) =>
        prices.reduce(
          (dearest, price) =>
            Option.isSome(price) ? Math.max(dearest, Budget.estimateUsd(price.value, call.tokens, maxOutputTokens)) : dearest,
          0
        )
    )
    return Effect.flatMap(estimate, (usd) => Budget.reserve(budget, call.ctx.agent ?? "none", usd))
  }
  const reservation = <A, E>(call: Call, self: Effect.Effect<A, E>): Effect.Effect<A, E | Budget.BudgetExceeded> => {
    const budget = call.ctx.budget
    return budget === undefined ? self : Effect.acquireUseRelease(hold(call, budget), () => self, Budget.settle)
  }
  const scoped: ScopedReservation = (call) => {
    const budget = call.ctx.budget
    return budget === undefined ? Effect.void : Effect.asVoid(Effect.acquireRelease(hold(call, budget), Budget.settle))
  }
  return Object.assign(reservation, { scoped })
}
