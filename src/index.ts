/**
 * effect-agents — production foundations for multi-agent LLM workflows on Effect.
 *
 * Ports (`services/`) are the tags, interfaces and typed errors code depends on; Layers
 * (`layers/`) are the backends to provide; `agents/` defines agents and workflows over the ports.
 * Swap any Layer in a test: everything else depends only on the ports.
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

// Layers
export * as AppConfigEnv from "./layers/AppConfigEnv.js"
export * as CircuitBreakerMemory from "./layers/CircuitBreakerMemory.js"
export * as LlmCacheFromConfig from "./layers/LlmCacheFromConfig.js"
export * as LlmCacheMemory from "./layers/LlmCacheMemory.js"
export * as LlmCacheRedis from "./layers/LlmCacheRedis.js"
export * as LlmCacheSqlite from "./layers/LlmCacheSqlite.js"
export * as LlmGoogle from "./layers/LlmGoogle.js"
export * as LlmOpenAiCompatible from "./layers/LlmOpenAiCompatible.js"
export * as LlmOpenRouter from "./layers/LlmOpenRouter.js"
export * as LlmProvider from "./layers/LlmProvider.js"
export * as LlmSimulated from "./layers/LlmSimulated.js"
export * as Logging from "./layers/Logging.js"
export * as MainLayer from "./layers/MainLayer.js"
export * as PassThrough from "./layers/PassThrough.js"
export * as PricingTable from "./layers/PricingTable.js"
export * as RateLimiterFromConfig from "./layers/RateLimiterFromConfig.js"
export * as RateLimiterLanes from "./layers/RateLimiterLanes.js"
export * as RateLimiterMemory from "./layers/RateLimiterMemory.js"
export * as RateLimiterRedis from "./layers/RateLimiterRedis.js"
export * as ResilientLanguageModel from "./layers/ResilientLanguageModel.js"
export * as RunHistoryFromConfig from "./layers/RunHistoryFromConfig.js"
export * as RunHistoryPostgres from "./layers/RunHistoryPostgres.js"
export * as RunHistoryRecorder from "./layers/RunHistoryRecorder.js"
export * as RunHistorySqlite from "./layers/RunHistorySqlite.js"
export * as Telemetry from "./layers/Telemetry.js"
export * as TestLayer from "./layers/TestLayer.js"
export * as ScriptedModel from "./testing/ScriptedModel.js"
export * as WorkflowEventsPubSub from "./layers/WorkflowEventsPubSub.js"

// Agents and workflows
export * as Agent from "./agents/Agent.js"
export * as AgentError from "./agents/AgentError.js"
export * as Workflow from "./agents/Workflow.js"
export * as Workflows from "./agents/registry.js"
export { code, research, summarize } from "./agents/index.js"
