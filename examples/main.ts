/**
 * Runs the `headline` workflow on the production Layers and prints its report:
 *   npx tsx node_modules/effect-agents/examples/main.ts "Effect 3.22 ships faster fibers"
 * With no provider key set it runs on the simulated provider; set OPENROUTER_API_KEY for a real one.
 * The README's "Use it as a library" shows this file as it is (the project's tests keep the two identical).
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import * as MainLayer from "effect-agents/MainLayer"
import { headline } from "./headline.js"

// Config from the environment and .env; cache, limiter, breaker and history as configured.
// MainLayer reads and writes files (.env, SQLite), so it needs the platform: NodeContext.layer.
const layer = MainLayer.layer({ isTty: false, console: true, color: false }).pipe(Layer.provide(NodeContext.layer))

headline.runReport(process.argv[2] ?? "Effect makes TypeScript programs robust.").pipe(
  Effect.flatMap((report) => Console.log(JSON.stringify(report, null, 2))),
  Effect.provide(layer),
  NodeRuntime.runMain
)
