/**
 * McpTools — the tools of a Model Context Protocol server, as an `@effect/ai` toolkit an agent can use.
 *
 * `connect` starts the server as a subprocess speaking MCP over stdio (`@modelcontextprotocol/sdk`,
 * an optional peer dependency: this module is its only importer, reached only through the
 * `effect-agents/McpTools` subpath), lists its tools and maps each to a `Tool` whose parameters
 * are the server's own JSON schema, and gives the handlers as a Layer that calls the server. The
 * subprocess ends with the scope.
 *
 * What the server reports as a tool error (`isError`) goes back to the model, as MCP intends; a
 * server that cannot be reached any more fails the call with `McpError`.
 */
import * as Tool from "@effect/ai/Tool"
import * as Toolkit from "@effect/ai/Toolkit"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { Effect, type Layer, Schema, type Scope } from "effect"

/** How to start the server: the command and its arguments, environment and working directory. */
export interface StdioServer {
  readonly command: string
  readonly args?: ReadonlyArray<string> | undefined
  /** The subprocess's whole environment when given (the SDK's safe default set otherwise). */
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
  /** The client's name shown to the server; default "effect-agents". */
  readonly clientName?: string | undefined
}

/** The server could not be started, listed or called; `operation` says which. */
export class McpError extends Schema.TaggedError<McpError>()("McpError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `MCP server ${this.operation} failed: ${this.reason}`
  }
}

/** A tool call the server answered with an error (it goes back to the model). */
export class McpToolError extends Schema.TaggedError<McpToolError>()("McpToolError", {
  tool: Schema.String,
  message: Schema.String
}) {}

/** Arguments as the server's JSON schema describes them: a JSON object, checked by the server. */
const Arguments = Schema.Struct({}, Schema.Record({ key: Schema.String, value: Schema.Unknown }))

/** A tool of an MCP server. */
export type McpTool = Tool.Tool<string, {
  readonly parameters: typeof Arguments
  readonly success: typeof Schema.Unknown
  readonly failure: typeof McpToolError
  readonly failureMode: "return"
}>

/** A connected server: its tools as a toolkit, and their handlers. */
export interface McpServerTools {
  readonly toolkit: Toolkit.Toolkit<Record<string, McpTool>>
  /** The handlers calling the server; provide them to the agent's `run`. */
  readonly handlers: Layer.Layer<Tool.HandlersFor<Record<string, McpTool>>>
  /** Names of the server's tools, in its order. */
  readonly names: ReadonlyArray<string>
}

const reasonOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** What a `tools/call` result gives the model: structured content if any, else the text parts joined. */
const resultOf = (result: Readonly<Record<string, unknown>>): unknown => {
  // The SDK also types the pre-2024 `{ toolResult }` form; a server of that age answers with it.
  if (!("content" in result) && "toolResult" in result) return result["toolResult"]
  if (result["structuredContent"] !== undefined) return result["structuredContent"]
  const content: ReadonlyArray<{ type?: unknown; text?: unknown }> = Array.isArray(result["content"]) ? result["content"] : []
  const texts = content.flatMap((part) =>
    part.type === "text" && typeof part.text === "string" ? [part.text] : []
  )
  return texts.length === content.length ? texts.join("\n") : content
}

/** Starts the server, lists its tools and maps them; the subprocess ends with the scope. */
export const connect = (server: StdioServer): Effect.Effect<McpServerTools, McpError, Scope.Scope> =>
  Effect.gen(function*() {
    const client = new Client({ name: server.clientName ?? "effect-agents", version: "1.0.0" })
    const transport = new StdioClientTransport({
      command: server.command,
      args: [...(server.args ?? [])],
      ...(server.env === undefined ? {} : { env: { ...server.env } }),
      ...(server.cwd === undefined ? {} : { cwd: server.cwd }),
      stderr: "ignore"
    })
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => client.connect(transport),
        catch: (e) => new McpError({ operation: "start", reason: reasonOf(e) })
      }),
      () => Effect.promise(() => client.close().catch(() => undefined))
    )
    const listed = yield* Effect.tryPromise({
      try: () => client.listTools(),
      catch: (e) => new McpError({ operation: "tools/list", reason: reasonOf(e) })
    })
    const tools: Array<McpTool> = listed.tools.map((t) =>
      Tool.make(t.name, { description: t.description, success: Schema.Unknown, failure: McpToolError, failureMode: "return" })
        // The server's own JSON schema is what the model sees; the server checks the arguments.
        .setParameters(Arguments.annotations({ jsonSchema: t.inputSchema }))
    )
    const toolkit = Toolkit.make(...tools) as unknown as Toolkit.Toolkit<Record<string, McpTool>>
    const call = (name: string) => (params: Record<string, unknown>) =>
      Effect.tryPromise({
        try: (signal) => client.callTool({ name, arguments: params }, undefined, { signal }),
        catch: (e) => new McpError({ operation: `tools/call ${name}`, reason: reasonOf(e) })
      }).pipe(
        // A broken connection is not the model's to fix: it fails the agent.
        Effect.orDie,
        Effect.flatMap((result) =>
          result["isError"] === true
            ? Effect.fail(new McpToolError({ tool: name, message: String(resultOf(result)) }))
            : Effect.succeed(resultOf(result))
        )
      )
    const handlers = Object.fromEntries(tools.map((t) => [t.name, call(t.name)]))
    return {
      toolkit,
      handlers: toolkit.toLayer(handlers as Toolkit.HandlersFrom<Record<string, McpTool>>),
      names: tools.map((t) => t.name)
    }
  })
