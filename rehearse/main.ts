/**
 * `npm run rehearse`: rehearses `pulumi up` on this machine. Every step of the user's day
 * (day.ts) is a real run of the program in a fresh Node process (step.ts) with the checkpoint of
 * the last, its servers booted as VMs from their own user data; `verify --wire` and the teardown
 * run through the same CLI a user types. Prints each step with its figures and ends with
 * `rehearsal: N steps passed, M failed`; exits 1 on any failure. The bed is removed at the end,
 * also after a failure or an interrupt (unless --keep).
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Command } from "commander";
import { packageRoot } from "../common/paths";
import { downVmBed, ensureGuestImage, ensurePrerequisites, LOCAL_IMAGE } from "../local";
import { FileStore } from "./engine/checkpoint";
import { day, type DayStep } from "./day";
import {
  bedNumber,
  deployedStacks,
  leftovers,
  swarmAddresses,
  unconvergedServices,
  vmsOf,
  writeUserFiles,
} from "./observe";
import { parseOptions, REHEARSAL_DEFAULTS, type RehearsalOptions, stepConfig } from "./options";
import { type Figures, formatFigures, formatResult, type StepResult } from "./report";
import { bedDir, checkpointFile, STACK, type StepReport, type StepRequest } from "./step";
import { tally } from "./tally";
import { FORCE_SCALE_DOWN_ENV } from "../bootstrap/member";

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Runs a child process with the terminal (or the test's pipe) as its output; resolves its exit code. */
function runChild(args: string[], capture?: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit", env });
    if (capture) {
      const take = (b: Buffer) => {
        process.stdout.write(b);
        capture.push(b.toString());
      };
      child.stdout?.on("data", take);
      child.stderr?.on("data", take);
    }
    child.on("error", reject);
    child.on("close", (code) => resolve(code ?? 1));
  });
}

async function runProgramStep(
  o: RehearsalOptions,
  step: DayStep,
  mode: "up" | "destroy",
  env?: NodeJS.ProcessEnv,
): Promise<StepReport> {
  const reportFile = path.join(o.dir, `step-${step.key}.report.json`);
  const req: StepRequest = {
    dir: o.dir,
    mode,
    config: stepConfig(o, step.workers ?? o.workers),
    localImage: LOCAL_IMAGE,
    report: reportFile,
  };
  const reqFile = path.join(o.dir, `step-${step.key}.request.json`);
  fs.writeFileSync(reqFile, JSON.stringify(req, null, 1) + "\n", { mode: 0o600 });
  fs.rmSync(reportFile, { force: true });
  const code = await runChild([path.join(__dirname, "step.js"), reqFile], undefined, env);
  if (!fs.existsSync(reportFile))
    return { ok: false, error: `the step process exited ${code} without a report`, ms: 0, operations: [] };
  return JSON.parse(fs.readFileSync(reportFile, "utf8")) as StepReport;
}

/** An `up` step: the run, what it did, and the step's own checks. */
async function upStep(o: RehearsalOptions, step: DayStep): Promise<StepResult> {
  const vmsBefore = vmsOf(o.dir);
  const report = await runProgramStep(o, step, "up");
  const vmsAfter = vmsOf(o.dir);
  const t = tally(report.operations);
  // The run's error names the first failed operation, which the tally lists in full.
  const problems = t.failures.length ? [...t.failures] : report.error ? [report.error] : [];
  if (report.ok)
    problems.push(
      ...(step.expect?.({
        tally: t,
        vmsBefore,
        vmsAfter,
        order: report.operations.map((x) => `${x.op} ${x.type} ${x.name}`),
      }) ?? []),
    );
  if (report.ok && step.key === "form") problems.push(...(await swarmOverPrivateNetwork(o)), ...(await stacksRun(o)));
  return { step, ms: report.ms, problems, figures: figuresOf(t, vmsBefore, vmsAfter) };
}

function figuresOf(t: ReturnType<typeof tally>, before: readonly string[], after: readonly string[]): Figures {
  return {
    vmsBooted: after.filter((v) => !before.includes(v)).length,
    vmsRemoved: before.filter((v) => !after.includes(v)).length,
    counts: t.counts,
    bootstrapActions: t.bootstrapActions.length,
    deployActions: t.deployActions.length,
  };
}

/** The swarm formed over the private network: every member's address is its private one. */
async function swarmOverPrivateNetwork(o: RehearsalOptions): Promise<string[]> {
  const files = writeUserFiles(o.dir);
  const addrs = await swarmAddresses(files);
  const expected = files.inventory.nodes.map((n) => n.privateAddress ?? n.advertiseAddress).sort();
  const seen = [...addrs.values()].sort();
  console.log(`  swarm members' addresses: ${[...addrs].map(([h, a]) => `${h} ${a}`).join(", ")}`);
  return JSON.stringify(seen) === JSON.stringify(expected)
    ? []
    : [`the swarm's member addresses ${seen.join(", ")} are not the private ones ${expected.join(", ")}`];
}

/** Both stacks converged with no manual step: every service runs its desired tasks. */
async function stacksRun(o: RehearsalOptions): Promise<string[]> {
  const stacks = deployedStacks(o.dir);
  const behind = await unconvergedServices(writeUserFiles(o.dir), stacks);
  console.log(
    behind.length
      ? `  stacks not converged: ${behind.join(", ")}`
      : `  stacks converged: every service of ${stacks.join(", ")} runs its desired tasks`,
  );
  return behind.map((b) => `not converged: ${b}`);
}

async function verifyStep(o: RehearsalOptions, step: DayStep): Promise<StepResult> {
  const started = Date.now();
  const files = writeUserFiles(o.dir);
  const cli = path.join(packageRoot(__dirname), "bin", "hcloud-swarm.js");
  // The probes run the bed's local image: nothing can be pulled here.
  const args = [
    "verify",
    "--wire",
    "--probe-image",
    LOCAL_IMAGE,
    "--inventory",
    files.inventoryPath,
    "--identity",
    files.identityPath,
  ];
  console.log(`  $ npx hcloud-swarm ${args.join(" ")}`);
  const code = await runChild([cli, ...args], []);
  return {
    step,
    ms: Date.now() - started,
    problems: code === 0 ? [] : [`verify --wire exited ${code} (0 means everything proven)`],
  };
}

/** `pulumi destroy`, then the proof that nothing of the bed is left; the bed is removed either way. */
async function teardownStep(o: RehearsalOptions, step: DayStep): Promise<StepResult> {
  const started = Date.now();
  const problems: string[] = [];
  const k = bedNumber(o.dir);
  const vmsBefore = vmsOf(o.dir);
  // As docs/guides/teardown.md says: a node holding a stack's pinned data is only removed when
  // the user names it, saying its data goes with it; a destroy of the whole cluster names them all.
  let every = "";
  try {
    every = writeUserFiles(o.dir)
      .inventory.nodes.map((n) => n.name)
      .join(",");
  } catch {
    // No inventory output: the run stopped before a swarm held anything; destroy what there is.
  }
  console.log(`  $ ${FORCE_SCALE_DOWN_ENV}=${every} pulumi destroy   (the stacks' pinned data goes with the cluster)`);
  const report = await runProgramStep(o, step, "destroy", { ...process.env, [FORCE_SCALE_DOWN_ENV]: every });
  if (!report.ok) problems.push(`pulumi destroy failed: ${report.error}`);
  const t = tally(report.operations);
  const left = new FileStore(checkpointFile(o.dir)).load().resources.filter((r) => r.custom);
  if (left.length) problems.push(`the checkpoint still holds ${left.map((r) => r.name).join(", ")}`);
  if (vmsOf(o.dir).length) problems.push(`VMs left after destroy: ${vmsOf(o.dir).join(", ")}`);
  if (k !== undefined) {
    const l = leftovers(k);
    if (l.namespace) problems.push(`namespace hsv${k} is still there after destroy`);
    if (l.qemu.length) problems.push(`qemu processes still running after destroy: ${l.qemu.join(", ")}`);
  }
  const hard = await downVmBed(bedDir(o.dir));
  if (hard.stopped) problems.push(`${hard.stopped} qemu process(es) had to be stopped by force`);
  return { step, ms: Date.now() - started, problems, figures: figuresOf(t, vmsBefore, vmsOf(o.dir)) };
}

/** Removes what an earlier, interrupted rehearsal left in DIR. */
async function clearLeftovers(o: RehearsalOptions): Promise<void> {
  const down = await downVmBed(bedDir(o.dir));
  if (down.removed.length)
    console.log(`removed the bed an earlier rehearsal left (hsv${down.removed.join(", hsv")}, ${down.stopped} VM(s))`);
  for (const f of fs.existsSync(o.dir) ? fs.readdirSync(o.dir) : [])
    if (f !== "bed") fs.rmSync(path.join(o.dir, f), { recursive: true, force: true });
  fs.mkdirSync(o.dir, { recursive: true, mode: 0o700 });
}

export async function rehearse(o: RehearsalOptions): Promise<number> {
  const started = Date.now();
  const steps = day({ managers: o.managers, workers: o.workers }, STACK, o.short);
  console.log(
    `rehearsing pulumi up on VMs: stack "${STACK}", ${steps.length} steps${o.short ? " (short form)" : ""}, in ${o.dir}`,
  );
  for (const [k, v, why] of REHEARSAL_DEFAULTS)
    if (!(`hcloud-swarm:${k}` in o.config))
      console.log(`  hcloud-swarm:${k} = ${k === "stacks" ? "traefik, wordpress" : v}  (${why})`);
  for (const [k, v] of Object.entries(o.config)) console.log(`  ${k} = ${v}  (yours)`);
  console.log(
    `  stacks run ${LOCAL_IMAGE} (StacksDeployment.localImage, set by a stack transformation): the applications themselves are not tested`,
  );
  await clearLeftovers(o);
  const prepStarted = Date.now();
  await ensurePrerequisites({ kind: "vm", log: (l) => console.log(`  ${l}`) });
  const image = await ensureGuestImage({ log: (l) => console.log(`  ${l}`) });
  console.log(`  guest image ${image.built ? "built" : "from the cache"} (${secs(Date.now() - prepStarted)})`);

  const results: StepResult[] = [];
  const stop = () => {
    console.log("\ninterrupted: removing the bed");
    void downVmBed(bedDir(o.dir)).finally(() => process.exit(130));
  };
  process.once("SIGINT", stop).once("SIGTERM", stop);
  try {
    for (const [i, step] of steps.entries()) {
      if (step.kind === "teardown" && o.keep) continue;
      console.log(`\n== step ${i + 1}/${steps.length}: ${step.title}`);
      const failedBefore = results.some((r) => r.problems.length > 0);
      let r: StepResult;
      try {
        if (failedBefore && step.kind !== "teardown")
          r = { step, ms: 0, problems: ["not run: an earlier step failed"] };
        else
          r =
            step.kind === "up"
              ? await upStep(o, step)
              : step.kind === "verify"
                ? await verifyStep(o, step)
                : await teardownStep(o, step);
      } catch (err) {
        r = { step, ms: 0, problems: [(err as Error).message] };
      }
      results.push(r);
      console.log(formatResult(i + 1, r));
    }
  } finally {
    if (!o.keep) await downVmBed(bedDir(o.dir));
  }
  const failed = results.filter((r) => r.problems.length > 0).length;
  console.log(
    `\n${formatFigures(results)}\nwhole rehearsal: ${secs(Date.now() - started)}${o.keep ? `; the cluster is still running (npm run rehearse:down removes it)` : ""}`,
  );
  fs.writeFileSync(
    path.join(o.dir, "figures.json"),
    JSON.stringify(
      {
        totalMs: Date.now() - started,
        steps: results.map((r) => ({ key: r.step.key, ms: r.ms, problems: r.problems, figures: r.figures })),
      },
      null,
      1,
    ) + "\n",
  );
  console.log(`rehearsal: ${results.length - failed} steps passed, ${failed} failed`);
  return failed ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command("npm run rehearse --")
    .description(
      "Rehearse `pulumi up` on real VMs: the real program, servers booted from their own user data, the user's day step by step.",
    )
    .option("--managers <n>", "swarm managers (1, 3, 5 or 7)")
    .option("--workers <n>", "workers at the start (the day adds one and removes it again)")
    .option("--short", "the short form: form, grow by one, verify, teardown")
    .option("--keep", "leave the cluster running at the end (remove it with npm run rehearse:down)")
    .option("--dir <dir>", "working directory (checkpoint, bed)")
    .option("--down", "only remove what a rehearsal left in --dir, then exit")
    .argument("[config...]", "hcloud-swarm:KEY=VALUE settings, as `pulumi config set` would store them");
  program.parse(argv);
  const raw = program.opts<{
    managers?: string;
    workers?: string;
    short?: boolean;
    keep?: boolean;
    dir?: string;
    down?: boolean;
  }>();
  const o = parseOptions({ ...raw, config: program.args });
  if (raw.down) {
    const d = await downVmBed(bedDir(o.dir));
    console.log(
      d.removed.length
        ? `removed VM bed hsv${d.removed.join(", hsv")} (${d.stopped} VM(s))`
        : `no rehearsal bed in ${o.dir}`,
    );
    return 0;
  }
  return rehearse(o);
}

if (require.main === module) {
  main(process.argv).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`error: ${err.message}`);
      process.exit(1);
    },
  );
}
