/**
 * `effect-agents config`: the effective configuration, where each value came from, secrets shown
 * as `<redacted>`. An invalid configuration fails with `InvalidConfig` (exit 2, every bad key).
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Console, Effect } from "effect"
import { load } from "../layers/AppConfigEnv.js"
import type { InvalidConfig } from "../services/AppConfig.js"
import { formatTable } from "./format.js"

export const configCommand = (options: {
  readonly json: boolean
}): Effect.Effect<void, InvalidConfig, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const loaded = yield* load({ isTty: process.stdout.isTTY === true })
    if (options.json) {
      yield* Console.log(JSON.stringify(
        Object.fromEntries(loaded.effective.map((s) => [s.key, { value: s.value, source: s.source }])),
        null,
        2
      ))
      return
    }
    yield* Console.log(formatTable(
      ["SETTING", "VALUE", "SOURCE"],
      loaded.effective.map((s) => [s.key, s.value === "" ? "-" : s.value, s.source])
    ))
  })
