/**
 * The fake provider set up to answer the shipped `research` workflow (a plan of three
 * sub-questions, then text answers), with the latency of each answer chosen per request, and an
 * account of every request: when it arrived, when its answer was complete, and what it asked —
 * so a test can tell which completed LLM calls a restarted worker sent again.
 */
import * as FakeProvider from "./FakeProvider.js"

interface ChatBody {
  readonly messages: ReadonlyArray<{ readonly role: string; readonly content: unknown }>
}

/** One request the fake answered (or was answering). */
export interface Served {
  /** What was asked: the request's messages, as JSON. */
  readonly prompt: string
  readonly system: string
  readonly user: string
  readonly arrivedAt: number
  /** When its answer was fully written (arrival + latency), if the fake got that far. */
  readonly answeredAt: number
}

const textOf = (content: unknown): string =>
  typeof content === "string" ? content : JSON.stringify(content)

/**
 * Which run and step of the `research` workflow asked `user`, for runs asked "Cluster question N?":
 * N, and the step's label — "decompose", "answer K" (sub-question K) or "synthesise".
 */
export const researchStepOf = (user: string): { readonly question: number; readonly label: string } => {
  const question = Number(/Cluster question (\d+)\?/.exec(user)?.[1] ?? Number.NaN)
  const part = /\(part (\d+)\)/.exec(user)?.[1]
  const label = user.includes('"findings"') ? "synthesise" : part !== undefined ? `answer ${part}` : "decompose"
  return { question, label }
}

/** Starts the fake; `latencyMs` picks the latency of each request from its user message. */
export const start = async (latencyMs: (user: string, system: string) => number) => {
  const served: Array<Served> = []
  const fake = await FakeProvider.start({
    script: (request) => {
      const body = request.body as ChatBody
      const system = textOf(body.messages[0]?.content)
      const user = textOf(body.messages.at(-1)?.content)
      const ms = latencyMs(user, system)
      served.push({ prompt: JSON.stringify(body.messages), system, user, arrivedAt: Date.now(), answeredAt: Date.now() + ms })
      const content = system.includes("You plan research")
        ? JSON.stringify({ subQuestions: [1, 2, 3].map((i) => `${user} (part ${i})`) })
        : `An answer to: ${user.slice(0, 120)}`
      return FakeProvider.delay(ms, FakeProvider.ok(content))
    }
  })
  return {
    fake,
    served,
    /** The environment of a `serve` that uses this fake, with no cache, retries or limiter to hide a repeat. */
    env: {
      LLM_PROVIDER: "openai",
      LLM_BASE_URL: fake.openaiUrl,
      OPENAI_API_KEY: "sk-durable-test-key",
      LLM_MODEL: "fake-model",
      CACHE_ENABLED: "false",
      MAX_RETRIES: "0",
      RATE_LIMIT_ENABLED: "false"
    },
    /**
     * Prompts asked again although an answer to them had been complete since before `before` —
     * calls a worker should have found in the engine's storage instead.
     */
    repeatedAfterAnswer: (before: number): ReadonlyArray<string> => {
      const firstAnswer = new Map<string, number>()
      const repeated = new Set<string>()
      for (const s of served) {
        const answered = firstAnswer.get(s.prompt)
        if (answered !== undefined && answered < before && s.arrivedAt > answered) repeated.add(s.user)
        if (answered === undefined || s.answeredAt < answered) firstAnswer.set(s.prompt, s.answeredAt)
      }
      return [...repeated]
    },
    timesAsked: (predicate: (s: Served) => boolean): number => served.filter(predicate).length
  }
}
