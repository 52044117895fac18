/**
 * One span per provider request. Each attempt of an LLM call is a GenAI client span of ours
 * (`chat <model>`, `llm/CallSpans.ts`); a model built with `@effect/ai`'s `LanguageModel.make` (the
 * Gemini and OpenRouter packages, the simulated provider, your own) opens a span of its own inside
 * it, `LanguageModel.generateText`, which the Gemini and OpenRouter packages annotate with the same
 * GenAI attributes — two spans for one request, counted twice by a backend that sums tokens per
 * span, and named like our logical call. `foldProviderSpans` makes that inner span part of the
 * attempt's: its GenAI attributes and events land on the attempt span, and the spans opened inside
 * it (the HTTP request) become the attempt's children.
 */
import { type Context, type Exit, Option, Tracer } from "effect"

/** Whether `span` is a GenAI client span: an attempt of ours (or anyone's, by the conventions). */
const isGenAiClient = (span: Tracer.AnySpan): span is Tracer.Span =>
  span._tag === "Span" && span.kind === "client" && span.attributes.has("gen_ai.operation.name")

// The provider's own attribute naming the system is the deprecated `gen_ai.system`; the attempt
// has `gen_ai.provider.name` already.
const folded = (key: string): boolean => key.startsWith("gen_ai.") && key !== "gen_ai.system"

/** The provider package's span, as a view of the attempt span it sits in. */
class FoldedSpan implements Tracer.Span {
  readonly _tag = "Span"
  status: Tracer.SpanStatus
  constructor(
    readonly name: string,
    private readonly into: Tracer.Span,
    startTime: bigint
  ) {
    this.status = { _tag: "Started", startTime }
  }
  get spanId(): string {
    return this.into.spanId
  }
  get traceId(): string {
    return this.into.traceId
  }
  get parent(): Option.Option<Tracer.AnySpan> {
    return this.into.parent
  }
  get context(): Context.Context<never> {
    return this.into.context
  }
  get attributes(): ReadonlyMap<string, unknown> {
    return this.into.attributes
  }
  get links(): ReadonlyArray<Tracer.SpanLink> {
    return this.into.links
  }
  get sampled(): boolean {
    return this.into.sampled
  }
  get kind(): Tracer.SpanKind {
    return this.into.kind
  }
  // The attempt span ends with the attempt, and with its outcome.
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }
  attribute(key: string, value: unknown): void {
    if (folded(key)) this.into.attribute(key, value)
  }
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    this.into.event(name, startTime, attributes)
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.into.addLinks(links)
  }
}

/** `tracer`, with `@effect/ai`'s `LanguageModel.*` spans folded into the GenAI client span they open in. */
export const foldProviderSpans = (tracer: Tracer.Tracer): Tracer.Tracer =>
  Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) =>
      Option.isSome(parent) && name.startsWith("LanguageModel.") && isGenAiClient(parent.value)
        ? new FoldedSpan(name, parent.value, startTime)
        : tracer.span(name, parent, context, links, startTime, kind, options),
    context: (f, fiber) => tracer.context(f, fiber)
  })
