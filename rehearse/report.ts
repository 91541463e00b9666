/**
 * How the rehearsal reports: one line per step with its time and figures, the problems of a
 * failed step, and a table of every step's figures at the end. Pure.
 */
import type { DayStep } from "./day";
import type { OperationKind } from "./engine/engine";

export interface Figures {
  readonly vmsBooted: number;
  readonly vmsRemoved: number;
  readonly counts: Readonly<Record<OperationKind, number>>;
  readonly bootstrapActions: number;
  readonly deployActions: number;
}

export interface StepResult {
  readonly step: DayStep;
  readonly ms: number;
  /** Empty when the step passed. */
  readonly problems: readonly string[];
  /** For steps that ran the program. */
  readonly figures?: Figures;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function describe(f: Figures): string {
  const c = f.counts;
  return `VMs +${f.vmsBooted} -${f.vmsRemoved}; resources ${c.create} created, ${c.update} updated, ${c.replace} replaced, ${c.delete} deleted, ${c.same} unchanged; bootstrap ${f.bootstrapActions} action(s), deploy ${f.deployActions} action(s)`;
}

/** "step 3 grow: PASS in 95.2 s — VMs +1 -0; …", then the problems of a failure. */
export function formatResult(n: number, r: StepResult): string {
  const verdict = r.problems.length ? "FAIL" : "PASS";
  const head = `step ${n} ${r.step.key}: ${verdict} in ${secs(r.ms)}${r.figures ? ` — ${describe(r.figures)}` : ""}`;
  return [head, ...r.problems.map((p) => `  - ${p.split("\n").join("\n    ")}`)].join("\n");
}

/** The figures of every step as a table (docs/lab/2026-12-01-rehearsal.md's table comes from it). */
export function formatFigures(results: readonly StepResult[]): string {
  const rows = results.map((r, i) => {
    const f = r.figures;
    const c = f?.counts;
    return [
      `${i + 1} ${r.step.key}`,
      r.problems.length ? "FAIL" : "PASS",
      secs(r.ms),
      f ? `+${f.vmsBooted} / -${f.vmsRemoved}` : "",
      c ? `${c.create} / ${c.update} / ${c.replace} / ${c.delete}` : "",
      f ? `${f.bootstrapActions} / ${f.deployActions}` : "",
    ];
  });
  const header = [
    "step",
    "result",
    "time",
    "VMs booted / removed",
    "created / updated / replaced / deleted",
    "bootstrap / deploy actions",
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  return [line(header), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...rows.map(line)].join("\n");
}
