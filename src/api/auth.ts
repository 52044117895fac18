/**
 * Bearer-token auth of the API. With `API_TOKEN` unset (allowed only on a loopback host, which
 * `serve` checks before it listens) every request passes. The token is compared in constant time —
 * both sides are hashed first, so neither its length nor its bytes leak through timing — and is
 * never logged: a request without it gets a bare 401.
 */
import * as HttpApiError from "@effect/platform/HttpApiError"
import { Effect, Layer, Option, Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { AppConfig } from "../services/AppConfig.js"
import { Authorization } from "./Api.js"

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest()

/** Whether `given` is `expected`, in time independent of where they differ. */
export const tokenMatches = (expected: Redacted.Redacted<string>, given: string): boolean =>
  timingSafeEqual(digest(Redacted.value(expected)), digest(given))

/** The `Authorization` middleware over `API_TOKEN`. */
export const layer: Layer.Layer<Authorization, never, AppConfig> = Layer.effect(
  Authorization,
  Effect.map(AppConfig, (config) => {
    const token = config.api.token
    return Authorization.of({
      bearer: (given) =>
        Option.isNone(token) || tokenMatches(token.value, Redacted.value(given))
          ? Effect.void
          : Effect.fail(new HttpApiError.Unauthorized())
    })
  })
)
