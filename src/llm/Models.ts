/**
 * Models — the models of one resilient `LanguageModel`: each reference resolved once and each
 * model built once (on first use), through the `ModelFactory`, kept for the life of the layer.
 */
import type { LanguageModel } from "@effect/ai"
import { Effect, Scope } from "effect"
import { ModelFactory, type ModelFactoryService, type ModelRef } from "../services/ModelFactory.js"

export interface Models {
  /** What `ref` stands for; the same object every time for the same reference. */
  readonly resolve: (ref: string) => ModelRef
  /** The model of a resolved reference. */
  readonly get: (ref: ModelRef) => Effect.Effect<LanguageModel.Service>
  /** The factory's `withSettings`. */
  readonly withSettings: ModelFactoryService["withSettings"]
}

export const make: Effect.Effect<Models, never, ModelFactory | Scope.Scope> = Effect.gen(function*() {
  const factory = yield* ModelFactory
  const scope = yield* Effect.scope
  // A reference resolves the same way every time; resolving is parsing, so remember each.
  const refs = new Map<string, ModelRef>()
  const resolve = (ref: string): ModelRef => {
    let found = refs.get(ref)
    if (found === undefined) {
      found = factory.resolve(ref)
      refs.set(ref, found)
    }
    return found
  }
  // Each model is built once (`cachedFunction`: concurrent first calls share the build); a built
  // model is then read from `ready`, without the cached function's hashing and Deferred per attempt.
  const built = yield* Effect.cachedFunction((ref: string) => Scope.extend(factory.make(resolve(ref)), scope))
  const ready = new Map<string, Effect.Effect<LanguageModel.Service>>()
  const get = (ref: ModelRef): Effect.Effect<LanguageModel.Service> =>
    ready.get(ref.ref) ??
      Effect.tap(built(ref.ref), (model) => Effect.sync(() => ready.set(ref.ref, Effect.succeed(model))))
  return { resolve, get, withSettings: factory.withSettings }
})
