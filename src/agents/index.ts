/**
 * agents — Agent.make, the Workflow combinators, the shipped workflows and their registry.
 */
export * as Agent from "./Agent.js"
export * as AgentError from "./AgentError.js"
export * as Registry from "./registry.js"
export * as Workflow from "./Workflow.js"
export { code } from "./workflows/code.js"
export { research } from "./workflows/research.js"
export { summarize } from "./workflows/summarize.js"
