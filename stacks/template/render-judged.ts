/**
 * `hcloud-swarm stack render`, judged: the rendering is exactly what `stack deploy` would hand to
 * Docker, so it is judged as `stack lint` judges a file (Docker's own loader on this machine, else
 * the Docker-dialect reader; no cluster facts), with the same rules, findings on the lines of the
 * file the user wrote, and the same verdict. A --var value can carry what the template does not
 * (a port, a credential), so the rendering, not the template, is what is judged.
 *
 * A refused rendering is not printed as a stack file: piped into `docker stack deploy` it would
 * deploy exactly what lint refused. On request it is printed for inspection with every line
 * commented out (commentedOut), which no Docker loader reads as a stack.
 */
import * as path from "path";
import type { Inventory } from "../../inventory/inventory";
import { renderFor } from "../deploy/deploy";
import { type Judgement, judgeLocally } from "../reading/judge";
import { lintJudged, lintWarnings } from "../lint/lint";
import type { RenderedStack } from "./render";
import type { Finding } from "../reading/source";
import type { StackFile } from "./template";

export interface JudgedRendering {
  readonly rendered: RenderedStack;
  readonly judgement: Judgement;
  /** Lint's findings on the rendering, placed on the lines of the source; empty when it passes. */
  readonly findings: readonly Finding[];
  /** What lint says without refusing (variables the judge did not have). */
  readonly warnings: readonly string[];
}

export interface RenderJudgedArgs {
  readonly source: StackFile;
  readonly vars: Readonly<Record<string, string>>;
  readonly inventory: Inventory;
  /** Stack name. Default: the template's or file's name. */
  readonly stack?: string;
  /** Test bed only, as for deploy. Default: the real images. */
  readonly localImage?: string;
  /** Where to look for a Docker CLI. Default: this process's PATH. */
  readonly searchPath?: string;
}

/** Renders as deploy does, then lints the rendering as `stack lint` lints a file. */
export async function renderJudged(args: RenderJudgedArgs): Promise<JudgedRendering> {
  const rendered = renderFor({
    source: args.source,
    vars: args.vars,
    inventory: args.inventory,
    ...(args.stack ? { stack: args.stack } : {}),
    ...(args.localImage ? { localImage: args.localImage } : {}),
  });
  // Relative paths resolve where `stack lint` resolves them: next to the file the user wrote.
  const baseDir = path.dirname(path.resolve(args.source.file));
  const judgement = await judgeLocally(
    { judged: rendered.rendering, baseDir },
    args.searchPath !== undefined ? { searchPath: args.searchPath } : {},
  );
  const findings = lintJudged({
    source: rendered.template,
    stack: rendered.stack,
    judgement,
    meta: rendered.meta,
  });
  const warnings = lintWarnings({ source: rendered.template, judgement });
  return { rendered, judgement, findings, warnings };
}

/** The refused rendering for inspection only: every line a comment, under a banner saying why. */
export function commentedOut(text: string, stack: string, problems: number): string {
  const head = [
    `REFUSED BY LINT (${problems} problem${problems === 1 ? "" : "s"}, listed on stderr): stack "${stack}" is NOT deployable.`,
    "Every line is commented out so that this output cannot be deployed by mistake; fix the stack file, not this.",
  ];
  return (
    [...head, "", ...text.replace(/\n$/, "").split("\n")].map((l) => (l === "" ? "#" : `# ${l}`)).join("\n") + "\n"
  );
}
