/**
 * Models — the models of one resilient `LanguageModel`: each reference resolved once and each
 * model built once (on first use), through the `ModelFactory`, held to the per-attempt timeout and
 * kept for the life of the layer.
 */
import type { LanguageModel } from "@effect/ai"
import { type Duration, Effect, Scope } from "effect"
import { deadline, ModelFactory, type ModelFactoryService, type ModelRef } from "../services/ModelFactory.js"

export interface Models {
  /** What `ref` stands for; the same object every time for the same reference. */
  readonly resolve: (ref: string) => ModelRef
  /** The model of a resolved reference. */
  readonly get: (ref: ModelRef) => Effect.Effect<LanguageModel.Service>
  /** The model of a resolved reference when it is built already (every attempt after the first). */
  readonly built: (ref: ModelRef) => LanguageModel.Service | undefined
  /** The factory's `withSettings`. */
  readonly withSettings: ModelFactoryService["withSettings"]
}

/** The models of the factory in context; each call of one answers within `timeout` (`LLM_TIMEOUT`). */
export const make = (timeout: Duration.Duration): Effect.Effect<Models, never, ModelFactory | Scope.Scope> =>
  Effect.gen(function*() {
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
    const built = yield* Effect.cachedFunction((ref: string) => {
      const resolved = resolve(ref)
      return Scope.extend(factory.make(resolved, deadline(resolved, timeout)), scope)
    })
    const ready = new Map<string, LanguageModel.Service>()
    const get = (ref: ModelRef): Effect.Effect<LanguageModel.Service> => {
      const model = ready.get(ref.ref)
      return model !== undefined ? Effect.succeed(model) : Effect.tap(built(ref.ref), (model) => Effect.sync(() => ready.set(ref.ref, model)))
    }
    return { resolve, get, built: (ref) => ready.get(ref.ref), withSettings: factory.withSettings }
  })
