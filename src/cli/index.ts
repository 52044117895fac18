/**
 * effect-agents/cli — the CLI for a bin of your own, with your workflows in `run`, `batch`,
 * `workflows` and the dashboard: `Cli.run({ workflows: [triage, ...Workflows.builtin] })`.
 */
export * as Cli from "./Cli.js"
export type { RegistryEntry } from "../agents/registry.js"
