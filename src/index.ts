/**
 * effect-agents — production foundations for multi-agent LLM workflows on Effect.
 *
 * Ports (`services/`) are the tags, interfaces and typed errors code depends on; Layers
 * (`layers/`) are the backends to provide; `agents/` defines agents and workflows over the ports.
 * Swap any Layer in a test: everything else depends only on the ports.
 *
 * This root loads no backend (no Redis, PostgreSQL, SQLite, OpenTelemetry or provider client):
 * the Layers that do, and the wiring that pulls them in (`MainLayer`, `TestLayer`, the `*FromConfig`
 * Layers, `ResilientLanguageModel`), are imported from their own paths, e.g.
 * `import * as MainLayer from "effect-agents/MainLayer"`. Every module here has its own path too
 * (`effect-agents/Agent`, `effect-agents/Workflow`, ...): package.json's `exports` lists them.
 */

// Ports
export * as AppConfig from "./services/AppConfig.js"
export * as Budget from "./services/Budget.js"
export * as CircuitBreaker from "./services/CircuitBreaker.js"
export * as LlmCache from "./services/LlmCache.js"
export * as LlmCacheKey from "./services/LlmCacheKey.js"
export * as LlmCall from "./services/LlmCall.js"
export * as LlmError from "./services/LlmError.js"
export * as LogTail from "./services/LogTail.js"
export * as Metrics from "./services/Metrics.js"
export * as Pricing from "./services/Pricing.js"
export * as RateLimiter from "./services/RateLimiter.js"
export * as ModelFactory from "./services/ModelFactory.js"
/** @deprecated The retry rules are `Retry` now. */
export * as Resilience from "./llm/Retry.js"
export * as Retry from "./llm/Retry.js"
export * as RunHistory from "./services/RunHistory.js"
export * as WorkflowContext from "./services/WorkflowContext.js"
export * as WorkflowEvents from "./services/WorkflowEvents.js"
export * as WorkflowState from "./state/WorkflowState.js"

// Layers that load no backend: in-memory stores, logging, pricing, the event bus, the simulated
// provider and the scripted model for tests
export * as AppConfigEnv from "./layers/AppConfigEnv.js"
export * as CircuitBreakerMemory from "./layers/CircuitBreakerMemory.js"
export * as LlmCacheMemory from "./layers/LlmCacheMemory.js"
export * as LlmSimulated from "./layers/LlmSimulated.js"
export * as Logging from "./layers/Logging.js"
export * as PassThrough from "./layers/PassThrough.js"
export * as PricingTable from "./layers/PricingTable.js"
export * as RateLimiterLanes from "./layers/RateLimiterLanes.js"
export * as RateLimiterMemory from "./layers/RateLimiterMemory.js"
export * as RunHistoryRecorder from "./layers/RunHistoryRecorder.js"
export * as ScriptedModel from "./testing/ScriptedModel.js"
export * as WorkflowEventsPubSub from "./layers/WorkflowEventsPubSub.js"

// Agents and workflows
export * as Agent from "./agents/Agent.js"
export * as AgentError from "./agents/AgentError.js"
export * as Workflow from "./agents/Workflow.js"
export * as Workflows from "./agents/registry.js"
export { code, research, summarize } from "./agents/index.js"
