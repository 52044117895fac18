import { describe, expect, it } from "vitest"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { runCli } from "./support/cli.js"

const emptyDir = () => mkdtempSync(join(tmpdir(), "ea-cli-"))

describe("effect-agents CLI", () => {
  it("--help lists every command and exits 0, without colour when piped", async () => {
    const r = await runCli(["--help"], { cwd: emptyDir() })
    expect(r.code).toBe(0)
    for (const command of ["dashboard", "run", "batch", "workflows", "history", "cache", "config", "serve"]) {
      expect(r.stdout).toContain(command)
    }
    expect(r.stdout).not.toMatch(/\u001b\[/)
  })

  it("--version prints the package version", async () => {
    const r = await runCli(["--version"], { cwd: emptyDir() })
    expect(r.code).toBe(0)
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
  })

  it("config with bad values exits 2 and names every bad key", async () => {
    const r = await runCli(["config"], { env: { MAX_RETRIES: "abc", METRICS_PORT: "99999" }, cwd: emptyDir() })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("MAX_RETRIES")
    expect(r.stderr).toContain("METRICS_PORT")
    expect(r.stderr).toContain("\"abc\"")
  })

  it("config shows API keys as <redacted> and never their value", async () => {
    const r = await runCli(["config"], { env: { OPENROUTER_API_KEY: "sk-test-123" }, cwd: emptyDir() })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/OPENROUTER_API_KEY\s+<redacted>\s+env/)
    expect(r.stdout).toMatch(/LLM_PROVIDER\s+openrouter\s+derived/)
    expect(r.stdout + r.stderr).not.toContain("sk-test-123")
  })

  it("config reads .env from the working directory and says so", async () => {
    const cwd = emptyDir()
    writeFileSync(join(cwd, ".env"), "CACHE_TTL=120\nGOOGLE_API_KEY=g-secret-456\n")
    const r = await runCli(["config", "--json"], { cwd })
    expect(r.code).toBe(0)
    const shown = JSON.parse(r.stdout) as Record<string, { value: string; source: string }>
    expect(shown["CACHE_TTL"]).toEqual({ value: "120", source: ".env" })
    expect(shown["GOOGLE_API_KEY"]).toEqual({ value: "<redacted>", source: ".env" })
    expect(shown["LLM_PROVIDER"]?.value).toBe("google")
    expect(r.stdout).not.toContain("g-secret-456")
  })

  it("an unknown command or option is bad usage: exit 2", async () => {
    const r = await runCli(["frobnicate"], { cwd: emptyDir() })
    expect(r.code).toBe(2)
    const r2 = await runCli(["history", "--limit", "many"], { cwd: emptyDir() })
    expect(r2.code).toBe(2)
  })
})
