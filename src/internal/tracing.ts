/**
 * Spans only where someone can see them. Under Effect's built-in tracer spans are kept in memory
 * and exported nowhere, yet each `Effect.withSpan` costs a cache hit ~12 µs and holds ~5 KB per run
 * in flight for as long as its region is open (README › Performance). With a tracer that exports
 * (`@effect/opentelemetry`, a test's own) every span is made as before.
 */
import { Context, Effect, FiberRef, Tracer } from "effect"

/** Effect's built-in tracer. */
const nativeTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/** `Effect.withSpan(self, name, options)` when the fiber's tracer exports spans; `self` otherwise. */
export const traced = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  name: string,
  options?: Tracer.SpanOptions
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) =>
    Context.get(fiber.currentDefaultServices, Tracer.Tracer) === nativeTracer || !fiber.getFiberRef(FiberRef.currentTracerEnabled)
      ? self
      : Effect.withSpan(self, name, options)
  )
