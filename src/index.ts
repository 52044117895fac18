/**
 * effect-agents public API.
 */
export {}
