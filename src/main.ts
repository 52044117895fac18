/**
 * effect-agents CLI (placeholder until the CLI skeleton lands).
 */
process.stdout.write("effect-agents\n")
