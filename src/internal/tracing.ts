/**
 * Spans only where someone can see them. Under Effect's built-in tracer spans are kept in memory
 * and exported nowhere, yet each `Effect.withSpan` costs a cache hit ~12 µs and holds ~5 KB per run
 * in flight for as long as its region is open (README › Performance). With a tracer that exports
 * (OTLP from `layers/Tracing.ts`, `@effect/opentelemetry`'s SDK, a test's own) every span is made
 * as before. Span options are given as a function, called only when there is a span, so the hot
 * path builds no attribute objects while tracing is off.
 */
import { Context, Effect, type Fiber, FiberRef, type Scope, Tracer } from "effect"

/** Effect's built-in tracer. */
const nativeTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/** Whether the fiber's spans go somewhere: its tracer is not the built-in one, and is enabled. */
export const exporting = (fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean =>
  Context.get(fiber.currentDefaultServices, Tracer.Tracer) !== nativeTracer &&
  fiber.getFiberRef(FiberRef.currentTracerEnabled)

/** Span options, or a function making them (called only when a span is made). */
export type Options = Tracer.SpanOptions | (() => Tracer.SpanOptions)

// The captured stack of a span made here would always point here, and costs a stack trace per span.
const noStack: Tracer.SpanOptions = { captureStackTrace: false }

const optionsOf = (options: Options | undefined): Tracer.SpanOptions => {
  const given = typeof options === "function" ? options() : options
  return given === undefined ? noStack : given.captureStackTrace === undefined ? { ...given, ...noStack } : given
}

/** `Effect.withSpan(self, name, options)` when the fiber's tracer exports spans; `self` otherwise. */
export const traced = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  name: string,
  options?: Options
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) => exporting(fiber) ? Effect.withSpan(self, name, optionsOf(options)) : self)

/**
 * `body` inside a span named `name` (the parent of the spans made in it) when the fiber's tracer
 * exports spans, handed the span so it can add what it learns (a response's model, its usage);
 * `body(undefined)` otherwise.
 */
export const tracedWith = <A, E, R>(
  name: string,
  options: Options | undefined,
  body: (span: Tracer.Span | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => Effect.withFiberRuntime((fiber) => tracedIn(fiber, name, options, body))

/** `tracedWith`, for code that holds its fiber already (inside `Effect.withFiberRuntime`). */
export const tracedIn = <A, E, R>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  name: string,
  options: Options | undefined,
  body: (span: Tracer.Span | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  exporting(fiber)
    ? Effect.useSpan(name, optionsOf(options), (span) => Effect.withParentSpan(body(span), span))
    : body(undefined)

/**
 * A span that ends as the scope closes (with its exit) when the fiber's tracer exports spans —
 * for a stream, whose work outlives any one effect; `undefined` otherwise.
 */
export const scopedSpan = (name: string, options?: Options): Effect.Effect<Tracer.Span | undefined, never, Scope.Scope> =>
  Effect.withFiberRuntime((fiber) =>
    exporting(fiber) ? Effect.makeSpanScoped(name, optionsOf(options)) : Effect.succeed(undefined)
  )
