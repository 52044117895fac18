/**
 * WorkflowEventsPubSub — the in-process event bus behind `WorkflowEvents`.
 *
 * `layer` uses an unbounded `PubSub`: publishing never waits and no subscriber ever loses an
 * event. That is the right trade for the run history, which must record every run of a 200-run
 * batch; the cost is that a subscriber that stops reading grows its queue without bound, so
 * consumers must keep draining (the dashboard reduces events as they come and renders on a timer).
 * `layerSliding(capacity)` is for deployments that prefer bounded memory over completeness: each
 * subscriber keeps only its newest `capacity` events and a slow one silently drops the oldest —
 * still never blocking a workflow.
 */
import { Effect, Layer, PubSub, type Scope } from "effect"
import { type WorkflowEvent, WorkflowEvents, type WorkflowEventsService } from "../services/WorkflowEvents.js"

const fromPubSub = (pubsub: PubSub.PubSub<WorkflowEvent>): WorkflowEventsService => ({
  // `unsafeOffer` publishes as `publish` does whenever the bus has room (an unbounded bus always
  // has), without its fiber steps (two events per LLM call); a full or shut-down bus takes `publish`.
  publish: (event) => Effect.suspend(() => pubsub.unsafeOffer(event) ? Effect.void : Effect.asVoid(PubSub.publish(pubsub, event))),
  subscribe: PubSub.subscribe(pubsub)
})

/** Builds the bus on an unbounded PubSub, shut down with the enclosing scope. */
export const make: Effect.Effect<WorkflowEventsService, never, Scope.Scope> = Effect.map(
  Effect.acquireRelease(PubSub.unbounded<WorkflowEvent>(), PubSub.shutdown),
  fromPubSub
)

/** `WorkflowEvents` on an unbounded PubSub: never blocks, never drops. */
export const layer: Layer.Layer<WorkflowEvents> = Layer.scoped(WorkflowEvents, make)

/** `WorkflowEvents` where each subscriber keeps at most `capacity` events, dropping the oldest. */
export const layerSliding = (capacity: number): Layer.Layer<WorkflowEvents> =>
  Layer.scoped(
    WorkflowEvents,
    Effect.map(Effect.acquireRelease(PubSub.sliding<WorkflowEvent>(capacity), PubSub.shutdown), fromPubSub)
  )
