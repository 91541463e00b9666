/**
 * One run of the program, `pulumi up` or `pulumi destroy`, in a fresh Node process as each of the
 * rehearsal's steps is (`node dist/rehearse/step.js REQUEST.json`): the real program
 * (infra/index.ts) under the engine stand-in, servers booted on the VM bed, the dynamic providers
 * run for real, the checkpoint read from and written to DIR/checkpoint.json. It prints every
 * operation and the providers' lines as they happen, and writes a report for the caller.
 */
import * as fs from "fs";
import * as path from "path";
import type * as PulumiModule from "@pulumi/pulumi";
import { packageRoot } from "../common/paths";
import { FileStore } from "./engine/checkpoint";
import { MockEngine, type Operation } from "./engine/engine";
import { runUnderMocks } from "./engine/run-under-mocks";
import { shortType, STACKS_TYPE } from "./tally";
import { VmCloud } from "./hetzner/vm-cloud";

export const PROJECT = "hcloud-swarm";
/** The Pulumi stack the rehearsal plays; it names the cluster and its servers ("rehearsal-worker-1"). */
export const STACK = "rehearsal";

export interface StepRequest {
  /** The rehearsal's directory: checkpoint.json, its key, and the VM bed in bed/. */
  readonly dir: string;
  readonly mode: "up" | "destroy";
  /** Full config keys ("hcloud-swarm:workers") → values, as `pulumi config` stores them. */
  readonly config: Readonly<Record<string, string>>;
  /** Test bed only: the image every stack service runs (StacksDeployment's `localImage`). Default: none. */
  readonly localImage?: string;
  /** Where to write the StepReport. */
  readonly report: string;
}

export interface StepReport {
  readonly ok: boolean;
  readonly error?: string;
  readonly ms: number;
  readonly operations: readonly Operation[];
}

export const checkpointFile = (dir: string): string => path.join(dir, "checkpoint.json");
export const bedDir = (dir: string): string => path.join(dir, "bed");

const SYMBOL: Record<Operation["op"], string> = { create: "+", update: "~", replace: "+-", delete: "-", same: " " };
const DONE: Record<Operation["op"], string> = {
  create: "created",
  update: "updated",
  replace: "replaced",
  delete: "deleted",
  same: "unchanged",
};

function printOperation(o: Operation): void {
  if (o.op === "same") return;
  const what = o.error ? `${o.op} FAILED` : o.deletedFirst ? `${DONE[o.op]} (old one deleted first)` : DONE[o.op];
  console.log(
    `  ${SYMBOL[o.op].padEnd(2)} ${shortType(o.type).padEnd(15)} ${o.name.padEnd(32)} ${what} (${(o.ms / 1000).toFixed(1)} s)${o.changed?.length ? ` [${o.changed.join(", ")}]` : ""}`,
  );
  if (o.error) for (const l of o.error.split("\n")) console.log(`       ${l}`);
}

/**
 * The rehearsal sets StacksDeployment's bed-only `localImage` input with a stack
 * transformation, a Pulumi feature a user could apply too; the program itself never sets it.
 */
export function localImageTransformation(image: string): PulumiModule.ResourceTransformation {
  return (args) =>
    args.type === STACKS_TYPE ? { props: { ...args.props, localImage: image }, opts: args.opts } : undefined;
}

export async function runStep(req: StepRequest): Promise<StepReport> {
  const started = Date.now();
  const root = packageRoot(__dirname);
  const cloud = new VmCloud({ bedDir: bedDir(req.dir), log: (l) => console.log(`bed: ${l}`) });
  const engine = new MockEngine({
    cloud,
    store: new FileStore(checkpointFile(req.dir)),
    root,
    onOperation: printOperation,
    onDiagnostic: (name, line) => console.log(`    [${name}] ${line}`),
  });
  // The SDK the program imports: one per process, as under the language host.
  const pulumi = (await import("@pulumi/pulumi")) as typeof PulumiModule;
  const program = path.join(__dirname, "..", "infra", "index");
  const result = await runUnderMocks({
    pulumi,
    engine,
    config: req.config,
    project: PROJECT,
    stack: STACK,
    // `pulumi destroy` does not run the program: nothing is registered, so everything is deleted.
    loadProgram: req.mode === "up" ? () => import(program) : async () => ({}),
    transformations: req.localImage ? [localImageTransformation(req.localImage)] : [],
  });
  return {
    ok: !result.error,
    ...(result.error ? { error: result.error.message } : {}),
    ms: Date.now() - started,
    operations: engine.operations,
  };
}

async function main(file: string): Promise<number> {
  const req = JSON.parse(fs.readFileSync(file, "utf8")) as StepRequest;
  // After a failed run the SDK rejects what depended on the failure, with nothing awaiting it;
  // the run's report already names the cause, so these only must not end the process early.
  let stray = 0;
  process.on("unhandledRejection", () => stray++);
  let report: StepReport;
  try {
    report = await runStep(req);
  } catch (err) {
    report = { ok: false, error: (err as Error).message, ms: 0, operations: [] };
  }
  if (stray) console.log(`    (${stray} more rejection(s) inside the SDK followed from that failure)`);
  fs.writeFileSync(req.report, JSON.stringify(report, null, 1) + "\n", { mode: 0o600 });
  return report.ok ? 0 : 1;
}

if (require.main === module) {
  main(process.argv[2]).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`rehearsal step failed: ${err.message}`);
      process.exit(1);
    },
  );
}
