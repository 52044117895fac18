/**
 * variantProcess — each llm-overhead variant runs in a child process of its own, started and
 * warmed up once, then driven round by round by the parent over IPC; the child collects garbage
 * before each round. Separate processes keep one variant's garbage and JIT type feedback from
 * slowing another.
 */
import { fork } from "node:child_process"
import { type Prepared, type Run, settle } from "./measure.js"

/** A variant's child process, seen from the parent. */
export interface VariantProcess<Name extends string> {
  readonly name: Name
  readonly round: (n: number) => Promise<Run>
  readonly stop: () => void
}

/**
 * Starts `entry --variant name ...args` (the benchmark's own file dispatches to `serveVariant`);
 * resolves once the variant is warmed up.
 */
export const startVariant = <Name extends string>(
  entry: string,
  execArgv: ReadonlyArray<string>,
  name: Name,
  args: ReadonlyArray<string>
): Promise<VariantProcess<Name>> =>
  new Promise((resolve, reject) => {
    const child = fork(entry, ["--variant", name, ...args], { execArgv: [...execArgv] })
    let pending: { resolve: (run: Run) => void; reject: (e: Error) => void } | undefined
    child.once("error", reject)
    child.once("exit", (code) => {
      const error = new Error(`the ${name} variant exited with ${code}`)
      pending?.reject(error)
      reject(error)
    })
    child.on("message", (m) => {
      const message = m as { ready: true } | { wallMs: number; latencies: Array<number>; failures: number }
      if ("ready" in message) {
        resolve({
          name,
          round: (n) =>
            new Promise<Run>((res, rej) => {
              pending = { resolve: res, reject: rej }
              child.send({ round: n })
            }),
          stop: () => child.disconnect()
        })
        return
      }
      const done = pending
      pending = undefined
      done?.resolve({ wallMs: message.wallMs, latencies: Float64Array.from(message.latencies), failures: message.failures })
    })
  })

/** The child's side: prepare the variant (built and warmed up), then run each round the parent asks for. */
export const serveVariant = async (prepare: () => Promise<Prepared>): Promise<void> => {
  const variant = await prepare()
  process.on("message", (m) => {
    const { round } = m as { round: number }
    void settle().then(() => variant.round(round)).then((run) =>
      process.send?.({ wallMs: run.wallMs, latencies: Array.from(run.latencies), failures: run.failures })
    )
  })
  process.on("disconnect", () => {
    void variant.dispose().then(() => process.exit(0))
  })
  process.send?.({ ready: true })
}
