/**
 * `hcloud-swarm stack templates|lint|render|deploy|rm`. Wiring only: the work is in stacks/.
 */
import { Command } from "commander";
import { loadInventory } from "../inventory/inventory";
import { throwIfProblems } from "../common/problems";
import * as path from "path";
import type { SshSession } from "../transport/ssh";
import { overlayNetworks } from "../swarm/facts";
import { connectManager } from "../swarm/manager-session";
import { describeConvergence } from "../stacks/deploy/converge";
import { deployStack, REMOTE_DIR, renderFor } from "../stacks/deploy/deploy";
import { parsePinArgs } from "../stacks/placement/placement-pins";
import { type Judgement, judgeForDeploy, judgeLocally, managerContext } from "../stacks/reading/judge";
import { type LintContext, lintJudged, lintWarnings } from "../stacks/lint/lint";
import { lintContext } from "../stacks/deploy/plan";
import { readMeta } from "../stacks/template/meta";
import { commentedOut, renderJudged } from "../stacks/template/render-judged";
import { removeStack } from "../stacks/deploy/remove";
import { formatFinding, stackNameFromFile } from "../stacks/reading/source";
import { stackText } from "../stacks/reading/stack-text";
import { loadStackFile, templateNames } from "../stacks/template/template";
import { parseVarArgs } from "../stacks/template/variables";
import { checkedName } from "../transport/shell";
import { lintJson, type LintedFile, printJson } from "./json";

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function varsFrom(args: readonly string[]): Record<string, string> {
  const { vars, problems } = parseVarArgs(args);
  throwIfProblems("stack variables", problems);
  return vars;
}

function banner(lines: readonly string[]): void {
  if (lines.length === 0) return;
  const bar = "!".repeat(78);
  console.log([bar, ...lines.map((l) => `! ${l}`), bar].join("\n"));
}

export function registerStackCommands(program: Command): void {
  const stack = program
    .command("stack")
    .description("Stack templates with enforced overlay encryption: lint, render, deploy, remove.");

  stack
    .command("templates")
    .description("List the shipped templates and their variables.")
    .action(() => {
      for (const name of templateNames()) {
        const t = loadStackFile(name);
        const { meta } = readMeta(stackText(t.text, t.file).source(name));
        console.log(`${name}: ${meta.description}`);
        for (const v of meta.variables)
          console.log(
            `  --var ${v.name}=…  ${v.description}${v.default !== undefined ? ` (default ${JSON.stringify(v.default)})` : " (required)"}`,
          );
        for (const s of meta.secrets) console.log(`  secret ${s.key}: ${s.description} (generated at first deploy)`);
      }
    });

  stack
    .command("lint")
    .description(
      "Check what Docker would deploy from stack files against the encryption policy; exits 1 and names file, line, stack and network on any finding.",
    )
    .argument("<files...>", "stack files or template names")
    .option("--name <stack>", "stack name used in messages and for <stack>_default (default: from the file name)")
    .option(
      "--inventory <file>",
      "judge with the manager's docker stack config and check against the cluster: its encrypted and plain networks, its ingress (as stack deploy does)",
    )
    .option("--identity <key>", "SSH private key (default: each node's privateKeyPath)")
    .option(
      "--json",
      "print the findings as one JSON document on stdout (shape: docs/reference/cli.md); the exit code is the same",
    )
    .action(async (files: string[], opts: { name?: string; inventory?: string; identity?: string; json?: boolean }) => {
      let ctx: LintContext = {};
      let s: SshSession | undefined;
      try {
        if (opts.inventory) {
          s = await connectManager(loadInventory(opts.inventory), opts.identity);
          ctx = lintContext({ networks: await overlayNetworks(s) });
        }
        let total = 0;
        const linted: LintedFile[] = [];
        for (const ref of files) {
          const f = loadStackFile(ref);
          const stackName = opts.name ?? (f.builtin ? f.defaultName : stackNameFromFile(f.file));
          // One text, read once: the judge (the dialect reader's fallback) and lint share its readings.
          const source = stackText(f.text, f.file);
          let judgement: Judgement;
          if (s) judgement = await judgeForDeploy(s, await managerContext(s, REMOTE_DIR), source);
          else judgement = await judgeLocally({ judged: source, baseDir: path.dirname(path.resolve(f.file)) });
          const findings = lintJudged({ source, stack: stackName, judgement }, ctx);
          total += findings.length;
          linted.push({ file: f.file, stack: stackName, judge: judgement.judge, skipped: judgement.skipped, findings });
          if (opts.json) continue;
          for (const x of findings) console.log(formatFinding(x));
          for (const w of lintWarnings({ source, judgement })) console.error(`warning: ${w}`);
          const judged = `judged by ${judgement.judge}${judgement.skipped.length ? `; not used: ${judgement.skipped.join("; ")}` : ""}`;
          console.log(
            findings.length === 0
              ? `${f.file}: ok (${judged})`
              : `${f.file}: ${findings.length} problem${findings.length === 1 ? "" : "s"} (${judged})`,
          );
        }
        if (opts.json) printJson(lintJson(linted));
        if (total > 0) {
          if (!opts.json)
            console.error(
              `${total} problem${total === 1 ? "" : "s"}; a stack with any of them is refused by stack deploy`,
            );
          process.exitCode = 1;
        }
      } finally {
        s?.close();
      }
    });

  stack
    .command("render")
    .description(
      "Print the file stack deploy would upload (variables filled, MTU injected), judged by the same lint as stack lint: on any finding it exits 1, lists the findings on stderr and prints no stack file.",
    )
    .argument("<stack>", "template name or stack file")
    .option("--name <stack>", "stack name (default: the template's name)")
    .option("--var <key=value>", "template variable (repeatable)", collect, [])
    .option("--inventory <file>", "inventory whose swarm.overlayMtu sets the MTU (default MTU 1500)")
    .option("--local-images <image>", "TEST BED ONLY: replace every image by this local one")
    .option(
      "--show-refused",
      "when lint refuses, print the rendering anyway for inspection, every line commented out (it cannot be deployed)",
    )
    .action(
      async (
        ref: string,
        opts: { name?: string; var: string[]; inventory?: string; localImages?: string; showRefused?: boolean },
      ) => {
        const inventory = opts.inventory ? loadInventory(opts.inventory) : { nodes: [] };
        const source = loadStackFile(ref);
        const r = await renderJudged({
          source,
          vars: varsFrom(opts.var),
          inventory,
          ...(opts.name ? { stack: opts.name } : {}),
          ...(opts.localImages ? { localImage: opts.localImages } : {}),
        });
        for (const n of r.rendered.notices) console.error(n);
        for (const w of r.warnings) console.error(`warning: ${w}`);
        // stdout carries only a stack file that lint passed: the findings and verdict go to stderr.
        for (const x of r.findings) console.error(formatFinding(x));
        const judged = `judged by ${r.judgement.judge}${r.judgement.skipped.length ? `; not used: ${r.judgement.skipped.join("; ")}` : ""}`;
        if (r.findings.length === 0) {
          console.error(`${source.file}: rendering ok (${judged})`);
          process.stdout.write(r.rendered.text);
          return;
        }
        const n = r.findings.length;
        console.error(
          `${source.file}: rendering refused, ${n} problem${n === 1 ? "" : "s"} (${judged}); stack deploy would refuse it too. ${opts.showRefused ? "Printed commented out, for inspection only." : "No stack file printed (--show-refused prints it commented out, for inspection)."}`,
        );
        if (opts.showRefused) process.stdout.write(commentedOut(r.rendered.text, r.rendered.stack, n));
        process.exitCode = 1;
      },
    );

  stack
    .command("deploy")
    .description(
      "Lint, then create missing encrypted networks and secrets, upload and docker stack deploy; waits for convergence.",
    )
    .argument("<stack>", "template name or stack file")
    .requiredOption("--inventory <file>", "inventory of the cluster (from pulumi or local up)")
    .option("--name <stack>", "stack name (default: the template's name)")
    .option("--var <key=value>", "template variable (repeatable)", collect, [])
    .option("--identity <key>", "SSH private key (default: each node's privateKeyPath)")
    .option(
      "--secrets-file <file>",
      "where generated secrets are written, mode 0600 (default .hcloud-swarm/secrets/<cluster>/<stack>.env)",
    )
    .option(
      "--local-images <image>",
      "TEST BED ONLY: replace every image by this local one (real images cannot be pulled there)",
    )
    .option(
      "--pin <label=node>",
      "the node that holds a placement pin no node holds yet (repeatable; default: the least loaded eligible node)",
      collect,
      [],
    )
    .option(
      "--timeout <seconds>",
      "how long to wait for slow but healthy services to converge (a permanent failure stops earlier)",
      (v) => Number(v),
    )
    .option(
      "--accept-empty",
      "start the stack even though the node that held its pinned data is gone or lost the pin label (it starts without that data), and record the new holder",
    )
    .action(
      async (
        ref: string,
        opts: {
          acceptEmpty?: boolean;
          inventory: string;
          name?: string;
          var: string[];
          pin: string[];
          identity?: string;
          secretsFile?: string;
          localImages?: string;
          timeout?: number;
        },
      ) => {
        const inventory = loadInventory(opts.inventory);
        const source = loadStackFile(ref);
        const vars = varsFrom(opts.var);
        const { requests: pins, problems } = parsePinArgs(opts.pin);
        throwIfProblems("stack deploy --pin", problems);
        // Render once before connecting: variable mistakes are reported without touching the cluster.
        // The text is read once for both renders (deploy renders again, knowing the manager's kernel).
        const template = stackText(source.text, source.file);
        renderFor({ source, template, vars, inventory, ...(opts.name ? { stack: opts.name } : {}) });
        if (opts.localImages)
          banner([
            `--local-images: every image of this stack is replaced by ${opts.localImages}.`,
            "The real applications (Traefik, WordPress, MySQL, ...) do NOT run; only networks, secrets, placement and labels are real.",
          ]);
        const s = await connectManager(inventory, opts.identity);
        try {
          const r = await deployStack(s, {
            source,
            template,
            vars,
            inventory,
            log: (l) => console.log(l),
            pins,
            acceptEmpty: opts.acceptEmpty === true,
            ...(opts.name ? { stack: opts.name } : {}),
            ...(opts.localImages ? { localImage: opts.localImages } : {}),
            ...(opts.secretsFile ? { secretsFile: opts.secretsFile } : {}),
            ...(opts.timeout ? { convergeTimeoutMs: opts.timeout * 1000 } : {}),
          });
          if (r.secretsFile)
            console.log(`generated secrets written to ${r.secretsFile} (mode 0600); they are shown nowhere else`);
          for (const l of describeConvergence(r.stack, r.converge)) console.log(l);
          console.log(
            r.actions.length ? `actions: ${r.actions.length}` : "actions: none (already deployed as rendered)",
          );
          if (!r.converge.converged) process.exitCode = 1;
        } finally {
          s.close();
        }
      },
    );

  stack
    .command("rm")
    .description("Remove a stack and wait until its services and networks are gone (secrets and volumes are kept).")
    .argument("<stack>", "stack name")
    .requiredOption("--inventory <file>", "inventory of the cluster")
    .option("--identity <key>", "SSH private key (default: each node's privateKeyPath)")
    .action(async (name: string, opts: { inventory: string; identity?: string }) => {
      // Checked before anything connects: the name ends up on a manager's command line.
      checkedName("stack", name, "stack rm NAME");
      const s = await connectManager(loadInventory(opts.inventory), opts.identity);
      try {
        await removeStack(s, name, (l) => console.log(l));
      } finally {
        s.close();
      }
    });
}
