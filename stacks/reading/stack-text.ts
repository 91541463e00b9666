// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * One stack text, read once. A deploy used to hand the raw text from step to step, and each step
 * read it again: the template was parsed into a `yaml` Document twice and read by the
 * Docker-dialect reader four times (docs/lab/2026-12-08-s21model.md). Now the text is wrapped once
 * in a StackText, and render, the judge, lint and deploy take that: each reading is made on first
 * use and kept, so it is made at most once per text, and a path that never needs a reading never
 * pays for it.
 *
 * A new text is a new StackText: the rendering (render.ts fills variables, the MTU, the hash
 * labels) is another text than the template, and deploy's upload (canonical.ts) another again.
 * Findings always name the user's line: `origin` maps a value of Docker's reading (of this text
 * or of its rendering) back to the line of this text it came from (origin.ts).
 *
 * The readings are shared, so they are read-only: the renderer edits a clone of the document,
 * and the dialect judge's interpolation copies what it changes.
 */
import { type DialectReading, type GoValue, readDockerYaml } from "./dialect";
import { locate, type ValuePath } from "./origin";
import { parseStack, type StackSource } from "./source";

export interface StackText {
  /** The file the user wrote, named in every finding (the template's, for a rendering of it). */
  readonly file: string;
  readonly text: string;
  /** The text as a `yaml` Document with positions (source.ts), for the stack named `stack`. Never edit it. */
  source(stack: string): StackSource;
  /** The text as Docker reads YAML (dialect.ts), before interpolation. Never edit it. */
  dialect(): DialectReading;
  /** Line of this text that the value at `path` of `data` (Docker's reading of this text or of its rendering) came from. */
  origin(data: GoValue | undefined, path: ValuePath): number;
}

/** Wraps a text; nothing is read until a step asks for it. */
export function stackText(text: string, file: string): StackText {
  // Memoized in the closure, never at module level: a StackText lives for one command or one provider call.
  let parsed: StackSource | undefined;
  let read: DialectReading | undefined;
  const dialect = (): DialectReading => (read ??= readDockerYaml(text));
  return {
    file,
    text,
    source(stack: string): StackSource {
      parsed ??= parseStack(text, file, stack);
      // The stack name only labels findings: one Document serves every name.
      return parsed.stack === stack ? parsed : { ...parsed, stack };
    },
    dialect,
    origin: (data, path) => locate(dialect().at, data, path),
  };
}
