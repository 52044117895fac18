/**
 * Key bindings as data: for each input mode, the commands and the keys that trigger them.
 *
 * The container is the only keyboard owner; it asks `resolveCommand` what a key press means in the
 * current mode and acts on the command, never on raw keys. The footer and the help overlay are
 * rendered from the same table, so what the screen says and what the keys do cannot drift apart.
 */
import type { Key } from "ink"

/** What the keyboard is currently driving. */
export type Mode = "list" | "newRun" | "filter" | "help"

/** Everything a key can mean. Text typed in the input modes is not a command. */
export type Command =
  | "up"
  | "down"
  | "pageUp"
  | "pageDown"
  | "top"
  | "bottom"
  | "toggleDetail"
  | "newRun"
  | "cancelRun"
  | "clearFinished"
  | "filter"
  | "help"
  | "dismiss"
  | "submit"
  | "nextWorkflow"
  | "previousWorkflow"
  | "deleteBackward"
  | "quit"
  | "interrupt"

/** Ink's boolean key flags that name a single key. */
export type KeyName =
  | "upArrow"
  | "downArrow"
  | "leftArrow"
  | "rightArrow"
  | "pageUp"
  | "pageDown"
  | "home"
  | "end"
  | "return"
  | "escape"
  | "tab"
  | "backspace"
  | "delete"

/**
 * One key: a named key (`key`) or a typed character (`input`). `ctrl` must match exactly
 * (default: not held); `shift`, when given, too (it tells Tab from Shift-Tab).
 */
export interface KeyMatcher {
  readonly key?: KeyName
  readonly input?: string
  readonly ctrl?: boolean
  readonly shift?: boolean
}

/** A command, the keys bound to it and how the footer / help describe it. */
export interface Binding {
  readonly command: Command
  readonly keys: ReadonlyArray<KeyMatcher>
  /** Short key names, e.g. `↑/k`. */
  readonly label: string
  readonly description: string
}

/** All bindings of a mode, in the order help lists them. */
export type Keymap = Readonly<Record<Mode, ReadonlyArray<Binding>>>

const ctrlC: KeyMatcher = { input: "c", ctrl: true }

/** Ctrl-C reaches a raw-mode terminal as a key; it means what SIGINT means, in every mode. */
const interrupt: Binding = { command: "interrupt", keys: [ctrlC], label: "^C", description: "interrupt (like SIGINT)" }

/** The dashboard's bindings. */
export const keymap: Keymap = {
  list: [
    { command: "up", keys: [{ key: "upArrow" }, { input: "k" }], label: "↑/k", description: "select previous run" },
    { command: "down", keys: [{ key: "downArrow" }, { input: "j" }], label: "↓/j", description: "select next run" },
    { command: "pageUp", keys: [{ key: "pageUp" }], label: "PgUp", description: "page up" },
    { command: "pageDown", keys: [{ key: "pageDown" }], label: "PgDn", description: "page down" },
    { command: "top", keys: [{ key: "home" }, { input: "g" }], label: "Home/g", description: "newest run" },
    { command: "bottom", keys: [{ key: "end" }, { input: "G" }], label: "End/G", description: "oldest run" },
    { command: "toggleDetail", keys: [{ key: "return" }], label: "Enter", description: "show / hide run detail" },
    { command: "newRun", keys: [{ input: "n" }], label: "n", description: "start a new run" },
    { command: "cancelRun", keys: [{ input: "x" }], label: "x", description: "cancel the selected run" },
    { command: "clearFinished", keys: [{ input: "c" }], label: "c", description: "clear finished runs" },
    { command: "filter", keys: [{ input: "/" }], label: "/", description: "filter by status or workflow" },
    { command: "dismiss", keys: [{ key: "escape" }], label: "Esc", description: "close detail, clear filter" },
    { command: "help", keys: [{ input: "?" }], label: "?", description: "help" },
    { command: "quit", keys: [{ input: "q" }], label: "q", description: "quit" },
    interrupt
  ],
  newRun: [
    { command: "nextWorkflow", keys: [{ key: "tab", shift: false }], label: "Tab", description: "next workflow" },
    {
      command: "previousWorkflow",
      keys: [{ key: "tab", shift: true }],
      label: "S-Tab",
      description: "previous workflow"
    },
    { command: "submit", keys: [{ key: "return" }], label: "Enter", description: "start the run" },
    { command: "dismiss", keys: [{ key: "escape" }], label: "Esc", description: "cancel" },
    {
      command: "deleteBackward",
      keys: [{ key: "backspace" }, { key: "delete" }],
      label: "⌫",
      description: "delete a character"
    },
    interrupt
  ],
  filter: [
    { command: "submit", keys: [{ key: "return" }], label: "Enter", description: "apply the filter" },
    { command: "dismiss", keys: [{ key: "escape" }], label: "Esc", description: "clear the filter" },
    {
      command: "deleteBackward",
      keys: [{ key: "backspace" }, { key: "delete" }],
      label: "⌫",
      description: "delete a character"
    },
    interrupt
  ],
  help: [
    { command: "help", keys: [{ input: "?" }], label: "?", description: "close help" },
    { command: "dismiss", keys: [{ key: "escape" }], label: "Esc", description: "close help" },
    { command: "quit", keys: [{ input: "q" }], label: "q", description: "quit" },
    interrupt
  ]
}

/** Whether a key press is the one a matcher describes. */
export const matches = (matcher: KeyMatcher, input: string, key: Key): boolean => {
  if ((matcher.ctrl ?? false) !== key.ctrl) return false
  if (matcher.shift !== undefined && matcher.shift !== key.shift) return false
  if (matcher.key !== undefined) return key[matcher.key]
  return matcher.input !== undefined && matcher.input === input
}

/** The command a key press means in `mode`, if any (first binding wins). */
export const resolveCommand = (bindings: Keymap, mode: Mode, input: string, key: Key): Command | undefined =>
  bindings[mode].find((binding) => binding.keys.some((matcher) => matches(matcher, input, key)))?.command

/** A footer hint: the keys of one or more commands and a word or two saying what they do. */
export interface FooterHint {
  readonly keys: string
  readonly text: string
}

const footerSpec: Readonly<Record<Mode, ReadonlyArray<readonly [ReadonlyArray<Command>, string]>>> = {
  list: [
    [["up", "down"], "select"],
    [["toggleDetail"], "detail"],
    [["newRun"], "new run"],
    [["cancelRun"], "cancel"],
    [["clearFinished"], "clear finished"],
    [["filter"], "filter"],
    [["help"], "help"],
    [["quit"], "quit"]
  ],
  newRun: [[["nextWorkflow"], "workflow"], [["submit"], "start"], [["dismiss"], "cancel"]],
  filter: [[["submit"], "apply"], [["dismiss"], "clear"]],
  help: [[["help", "dismiss"], "close"], [["quit"], "quit"]]
}

/** The compact key hints the footer shows for a mode, labels taken from the bindings. */
export const footerHints = (bindings: Keymap, mode: Mode): ReadonlyArray<FooterHint> =>
  footerSpec[mode].map(([commands, text]) => ({
    keys: commands
      .flatMap((command) => bindings[mode].filter((b) => b.command === command).map((b) => b.label))
      .join(" "),
    text
  }))
