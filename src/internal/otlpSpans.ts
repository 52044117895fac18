/**
 * How a failed span is exported: with the typed error's tag and message, not a Cause dump.
 *
 * `@effect/opentelemetry`'s OTLP tracer renders a failed span's whole `Cause` — every error's stack
 * and `cause` chain — into an `exception` event, and labels every failed span "⚠︎ Interrupted"
 * (`span.label`, `status.interrupted`), interrupted or not. `plainErrors` wraps its tracer so a span
 * ends with the failure reduced to its tag (`error.type`, the exception's type) and message (the
 * status message): our errors' messages are written to be shown and hold no secret. A defect keeps
 * its stack, which is what a bug report needs. `withoutInterruptLabels` drops the mislabels from
 * failed spans as they are serialised; an interruption is marked `status.interrupted` by us instead.
 */
import type { OtlpSerialization } from "@effect/opentelemetry/OtlpSerialization"
import { Cause, type Context, Exit, Option, Tracer } from "effect"
import { errorInfo } from "../services/WorkflowEvents.js"

/** A failure as the exporter shows it: name and message, a stack of one line. */
class PlainFailure extends Error {
  constructor(name: string, message: string, stack?: string) {
    super(message)
    this.name = name
    this.stack = stack ?? `${name}: ${message}`
  }
}

/** The exit a span is exported with, and the `error.type` it carries (if it failed). */
const plainExit = (exit: Exit.Exit<unknown, unknown>): readonly [Exit.Exit<unknown, unknown>, string | undefined] => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return [exit, undefined]
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const { message, tag } = errorInfo(failure.value)
    return [Exit.fail(new PlainFailure(tag, message)), tag]
  }
  const defect = Cause.squash(exit.cause)
  if (defect instanceof Error) return [Exit.die(new PlainFailure(defect.name, defect.message, defect.stack)), defect.name]
  const { message, tag } = errorInfo(defect)
  return [Exit.die(new PlainFailure(tag, message)), tag]
}

/** `span`, ending with its exit made plain. */
class PlainErrorSpan implements Tracer.Span {
  readonly _tag = "Span"
  constructor(private readonly span: Tracer.Span) {}
  get name(): string {
    return this.span.name
  }
  get spanId(): string {
    return this.span.spanId
  }
  get traceId(): string {
    return this.span.traceId
  }
  get parent(): Option.Option<Tracer.AnySpan> {
    return this.span.parent
  }
  get context(): Context.Context<never> {
    return this.span.context
  }
  get status(): Tracer.SpanStatus {
    return this.span.status
  }
  get attributes(): ReadonlyMap<string, unknown> {
    return this.span.attributes
  }
  get links(): ReadonlyArray<Tracer.SpanLink> {
    return this.span.links
  }
  get sampled(): boolean {
    return this.span.sampled
  }
  get kind(): Tracer.SpanKind {
    return this.span.kind
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    const [plain, errorType] = plainExit(exit)
    if (errorType !== undefined) this.span.attribute("error.type", errorType)
    else if (Exit.isFailure(exit)) this.span.attribute("status.interrupted", true)
    this.span.end(endTime, plain)
  }
  attribute(key: string, value: unknown): void {
    this.span.attribute(key, value)
  }
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    this.span.event(name, startTime, attributes)
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.span.addLinks(links)
  }
}

/** `tracer`, whose spans end with plain errors. */
export const plainErrors = (tracer: Tracer.Tracer): Tracer.Tracer =>
  Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) =>
      new PlainErrorSpan(tracer.span(name, parent, context, links, startTime, kind, options)),
    context: (f, fiber) => tracer.context(f, fiber)
  })

// The shape of the trace data the OTLP tracer hands its serialisation, as far as it is read here.
interface SpanData {
  readonly status?: { readonly code?: unknown }
  attributes?: Array<{ readonly key?: unknown }>
}

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null
const arrayAt = (u: unknown, key: string): ReadonlyArray<unknown> => {
  const value = isObject(u) ? u[key] : undefined
  return Array.isArray(value) ? value : []
}

const mislabels = new Set<unknown>(["span.label", "status.interrupted"])
const statusError = 2

/** Removes the interruption labels from failed spans of `data`, in place. */
const dropMislabels = (data: unknown): void => {
  for (const resourceSpans of arrayAt(data, "resourceSpans")) {
    for (const scopeSpans of arrayAt(resourceSpans, "scopeSpans")) {
      for (const span of arrayAt(scopeSpans, "spans") as ReadonlyArray<SpanData>) {
        if (span.status?.code !== statusError || span.attributes === undefined) continue
        span.attributes = span.attributes.filter((attribute) => !mislabels.has(attribute.key))
      }
    }
  }
}

/** `serialization`, whose trace batches lose the interruption labels of failed spans. */
export const withoutInterruptLabels = (serialization: OtlpSerialization["Type"]): OtlpSerialization["Type"] => ({
  ...serialization,
  traces: (data) => {
    dropMislabels(data)
    return serialization.traces(data)
  }
})
