/**
 * A user's own workflow, defined in a project outside `src/` that imports the built package by
 * name, reaches `effect-agents run`, `batch` and `workflows` through `--workflows`,
 * `WORKFLOWS_MODULE` (environment or `.env`) and a bin of the user's own (`Cli.run`).
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { type CliResult, runCli, runScript } from "./support/cli.js"
import { ensureLibraryBuilt, makeUserProject, triageModule } from "./support/userProject.js"

const quiet = { SIM_LATENCY_MS: "5", SIM_ERROR_RATE: "0", SIM_RATE_LIMIT_RATE: "0", NO_COLOR: "1" }

interface Result {
  readonly workflow: string
  readonly status: string
  readonly usage: { readonly inputTokens: number; readonly outputTokens: number }
  readonly steps: ReadonlyArray<{ readonly agent: string; readonly status: string }>
}

const results = (out: CliResult): ReadonlyArray<Result> =>
  out.stdout.trim().split("\n").map((line) => JSON.parse(line) as Result)

let project = ""
const env = () => ({ ...quiet, DATA_DIR: join(project, "data"), LOG_DIR: join(project, "logs") })
const listed = (out: CliResult) => out.stdout.trim().split("\n").slice(1).map((line) => line.split(/\s+/)[0])

beforeAll(() => {
  ensureLibraryBuilt()
  project = makeUserProject()
  writeFileSync(join(project, "triage.mjs"), triageModule)
}, 180_000)

describe("effect-agents with --workflows <module>", () => {
  it("workflows lists the module's workflows before the built-in ones", async () => {
    const out = await runCli(["workflows", "--workflows", "./triage.mjs"], { cwd: project, env: env() })
    expect(out.code).toBe(0)
    expect(listed(out)).toEqual(["triage", "code", "explore", "research", "summarize"])
    expect(out.stdout).toContain("Route a support ticket to a team")
  })

  it("run executes the user's workflow, with its LLM calls counted in the run", async () => {
    const out = await runCli(["run", "triage", "--input", "The printer is on fire", "--json", "--workflows", "./triage.mjs"], {
      cwd: project,
      env: env()
    })
    expect(out.stderr).not.toContain("Error")
    expect(out.code).toBe(0)
    const [result] = results(out)
    expect(result).toMatchObject({ workflow: "triage", status: "succeeded", steps: [{ agent: "classifier", status: "succeeded" }] })
    // The call's tokens reach the run only if the workflow and the LLM layer share the library's modules.
    expect(result!.usage.inputTokens).toBeGreaterThan(0)
  })

  it("run checks the input against the workflow's own Schema: exit 2", async () => {
    const out = await runCli(["run", "triage", "--input", "", "--workflows", "./triage.mjs"], { cwd: project, env: env() })
    expect(out.code).toBe(2)
    expect(out.stderr).toContain("invalid input for workflow triage")
  })

  it("batch (WORKFLOWS_MODULE in the environment) runs the user's and the built-in workflows side by side", async () => {
    const file = join(project, "tickets.jsonl")
    writeFileSync(file, [
      JSON.stringify({ workflow: "triage", input: "Refund my last invoice" }),
      JSON.stringify({ workflow: "summarize", input: "A short text to summarise." }),
      JSON.stringify({ workflow: "triage", input: "The screen flickers" })
    ].join("\n"))
    const out = await runCli(["batch", file, "--json"], { cwd: project, env: { ...env(), WORKFLOWS_MODULE: "./triage.mjs" } })
    expect(out.code).toBe(0)
    const runs = results(out)
    expect(runs.map((r) => [r.workflow, r.status])).toEqual([
      ["triage", "succeeded"],
      ["summarize", "succeeded"],
      ["triage", "succeeded"]
    ])
    expect(runs.every((r) => r.usage.inputTokens > 0)).toBe(true)
  })

  it("WORKFLOWS_MODULE in .env works as well", async () => {
    const dir = makeUserProject()
    writeFileSync(join(dir, "triage.mjs"), triageModule)
    writeFileSync(join(dir, ".env"), "WORKFLOWS_MODULE=./triage.mjs\n")
    const out = await runCli(["workflows"], { cwd: dir, env: env() })
    expect(out.code).toBe(0)
    expect(listed(out)[0]).toBe("triage")
  })

  it.each([
    ["a missing file", "./missing.mjs", null, "no such file"],
    ["a module with no workflow", "./none.mjs", "export const answer = 42\n", "it exports no workflow"],
    ["a module that throws", "./throws.mjs", "throw new Error(\"no database\")\n", "cannot be loaded: no database"],
    ["a default export that is not all workflows", "./mixed.mjs", `${triageModule}\nexport default [triage, 3]\n`, "item 1 is not a workflow"],
    [
      "a workflow named like a built-in one",
      "./clash.mjs",
      triageModule.replace("Workflow.make(\"triage\"", "Workflow.make(\"summarize\""),
      "two different workflows are named 'summarize'"
    ]
  ])("%s is bad usage: exit 2 with one clear line, no stack trace", async (_, specifier, source, message) => {
    if (source !== null) writeFileSync(join(project, specifier), source)
    const out = await runCli(["run", "triage", "--input", "x", "--workflows", specifier], { cwd: project, env: env() })
    expect(out.code).toBe(2)
    expect(out.stderr).toContain(`workflows module ${specifier}: `)
    expect(out.stderr).toContain(message)
    expect(out.stderr).not.toMatch(/^\s+at /m)
  })
})

describe("a bin of the user's own with Cli.run", () => {
  const bin = `
import { Cli } from "effect-agents/cli"
import { Workflows } from "effect-agents"
import { triage } from "./triage.mjs"

Cli.run({ workflows: [triage, ...Workflows.builtin], name: "triage-bot", version: "1.2.3" })
`

  it("offers the given workflows in workflows and run, under its own name and version", async () => {
    writeFileSync(join(project, "triage-bot.mjs"), bin)
    const own = (args: ReadonlyArray<string>) => runScript(join(project, "triage-bot.mjs"), args, { cwd: project, env: env() })

    const version = await own(["--version"])
    expect(version.stdout.trim()).toBe("1.2.3")
    const list = await own(["workflows"])
    expect(list.code).toBe(0)
    expect(listed(list)).toEqual(["triage", "code", "explore", "research", "summarize"])
    const single = await own(["run", "triage", "--input", "My order never arrived", "--json"])
    expect(single.code).toBe(0)
    expect(results(single)[0]).toMatchObject({ workflow: "triage", status: "succeeded" })
    expect(results(single)[0]!.usage.inputTokens).toBeGreaterThan(0)
    const unknown = await own(["run", "nope", "--input", "x"])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("unknown workflow 'nope'; available: triage, code, explore, research, summarize")
  })
})
