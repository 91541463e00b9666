/**
 * `hcloud-swarm stack deploy`: render, inspect the cluster, lint with what was found, then create
 * missing encrypted networks and secrets, upload the file and `docker stack deploy`, and wait for
 * the services to converge. Nothing is changed when the lint refuses; a repeat changes nothing.
 */
import type { Inventory } from "../inventory/inventory";
import { shellQuote } from "../transport/shell";
import type { SshSession } from "../transport/ssh";
import { ValidationError } from "../common/problems";
import { overlayNetworks, secretNames, stackServices } from "./cluster";
import { waitForConvergence, type ConvergeReport } from "./converge";
import { lintText } from "./lint";
import { type DeployAction, describeAction, lintContext, mtuWarnings, planDeploy } from "./plan";
import { DEFAULT_MTU, MTU_OPTION, renderStack, type RenderedStack } from "./render";
import { defaultSecretsFile, generateSecret, saveSecrets, type GeneratedSecret } from "./secrets";
import { formatFinding } from "./source";
import type { StackFile } from "./template";
import { parse } from "yaml";

/** Where rendered stack files live on the manager, relative to the SSH user's home. */
export const REMOTE_DIR = ".hcloud-swarm/stacks";
/** `docker stack deploy` itself returns in seconds; allow for a slow manager under load. */
const STACK_DEPLOY_TIMEOUT_MS = 120_000;

export interface DeployArgs {
  readonly source: StackFile;
  /** Stack name. Default: the template's or file's name. */
  readonly stack?: string;
  /** Template variables. Default {}. */
  readonly vars?: Readonly<Record<string, string>>;
  readonly inventory: Inventory;
  /** Replace every image by this local one (test bed only). Default: none, the real images. */
  readonly localImage?: string;
  /** File that receives generated secrets (mode 0600). Default .hcloud-swarm/secrets/<cluster>/<stack>.env. */
  readonly secretsFile?: string;
  /**
   * Receives generated secrets before they are created in the cluster (the Pulumi provider keeps
   * them as secret outputs). Default: write them to `secretsFile`.
   */
  readonly keepGenerated?: (secrets: readonly GeneratedSecret[]) => void;
  /** How long to wait for services to converge. Default CONVERGE_TIMEOUT_MS in converge.ts. */
  readonly convergeTimeoutMs?: number;
  /** Progress lines; never given secret values. Default: none. */
  readonly log?: (line: string) => void;
}

export interface DeployResult {
  readonly stack: string;
  /** Hash of the rendered file, as labelled on every service. */
  readonly hash: string;
  /** Human-readable actions taken, in order; empty when the stack was already as rendered. */
  readonly actions: readonly string[];
  readonly notices: readonly string[];
  /** Where generated secrets were written, when any were generated. */
  readonly secretsFile?: string;
  readonly converge: ConvergeReport;
}

/** The lint refused the stack; `findings` are formatted lines naming file, stack, network and line. */
export class LintRefusedError extends ValidationError {
  constructor(stack: string, findings: readonly string[]) {
    super(`stack "${stack}" was refused by lint; nothing was deployed`, findings);
    this.name = "LintRefusedError";
  }
}

export function renderFor(args: Pick<DeployArgs, "source" | "stack" | "vars" | "inventory" | "localImage"> & { readonly dnsrr?: boolean }): RenderedStack {
  return renderStack(args.source.text, args.source.file, {
    stack: args.stack ?? args.source.defaultName,
    vars: args.vars ?? {},
    mtu: args.inventory.swarm?.overlayMtu ?? DEFAULT_MTU,
    ...(args.localImage ? { localImage: args.localImage } : {}),
    ...(args.dnsrr ? { dnsrr: true } : {}),
  });
}

/**
 * Test beds only (local images): does the manager's kernel have IPVS? The namespace bed's does not,
 * so its services need dnsrr; the VM bed's stock kernel does, so they keep VIP mode and the mesh.
 */
async function lacksIpvs(s: SshSession): Promise<boolean> {
  return (await s.run("test -e /proc/net/ip_vs", { allowFailure: true })).code !== 0;
}

/** Deploys over an open session to a manager. */
export async function deployStack(s: SshSession, args: DeployArgs): Promise<DeployResult> {
  const log = args.log ?? (() => undefined);
  const mtu = args.inventory.swarm?.overlayMtu ?? DEFAULT_MTU;
  const rendered = renderFor({ ...args, dnsrr: args.localImage !== undefined && (await lacksIpvs(s)) });
  for (const n of rendered.notices) log(n);
  const facts = { networks: await overlayNetworks(s), secrets: await secretNames(s), services: await stackServices(s, rendered.stack) };
  const ctx = lintContext(facts);
  const findings = [
    ...lintText(args.source.text, args.source.file, rendered.stack, ctx),
    ...lintText(rendered.text, `${args.source.file} (rendered)`, rendered.stack, ctx),
  ];
  if (findings.length > 0) throw new LintRefusedError(rendered.stack, findings.map(formatFinding));
  for (const w of mtuWarnings(rendered, facts, mtu)) log(`WARNING: ${w}`);

  const serviceCount = Object.keys((parse(rendered.text) as { services: Record<string, unknown> }).services).length;
  const actions = planDeploy(rendered, facts, mtu, serviceCount);
  const generated = actions.flatMap((a) => (a.kind === "create-secret" ? [generateSecret(rendered.stack, rendered.secrets.find((x) => x.name === a.name)!)] : []));
  const secretsFile = args.secretsFile ?? defaultSecretsFile(args.inventory.cluster ?? "hcloud-swarm", rendered.stack);
  // Kept before they exist in the cluster: a secret created but never written down would be lost for good.
  if (args.keepGenerated) args.keepGenerated(generated);
  else saveSecrets(secretsFile, generated);
  const done: string[] = [];
  for (const a of actions) {
    await apply(s, a, rendered, generated, args.localImage !== undefined);
    done.push(describeAction(a));
    log(`${rendered.stack}: ${describeAction(a)}`);
  }
  if (actions.length === 0) log(`${rendered.stack}: nothing to do, the cluster already runs this rendering (${rendered.hash})`);
  const converge = await waitForConvergence(s, rendered.stack, serviceCount, { ...(args.convergeTimeoutMs ? { timeoutMs: args.convergeTimeoutMs } : {}), log });
  return { stack: rendered.stack, hash: rendered.hash, actions: done, notices: rendered.notices, ...(generated.length > 0 && !args.keepGenerated ? { secretsFile } : {}), converge };
}

async function apply(s: SshSession, a: DeployAction, rendered: RenderedStack, generated: readonly GeneratedSecret[], local: boolean): Promise<void> {
  switch (a.kind) {
    case "create-network":
      await s.run(`docker network create --driver overlay --attachable --opt encrypted --opt ${MTU_OPTION}=${a.mtu} --label hcloud-swarm.managed=true ${shellQuote(a.name)}`);
      return;
    case "create-secret": {
      const secret = generated.find((g) => g.name === a.name);
      if (!secret) throw new Error(`internal: no generated value for ${a.name}`);
      // The value travels on stdin only: never on a command line, where `ps` would show it.
      await s.run(`docker secret create --label hcloud-swarm.stack=${shellQuote(rendered.stack)} ${shellQuote(a.name)} -`, { stdin: secret.content });
      return;
    }
    case "deploy-stack": {
      const file = `${REMOTE_DIR}/${rendered.stack}.yml`;
      await s.upload(rendered.text, file, { mode: "0600" });
      // Offline images on the test bed must not be resolved against a registry; real ones are pinned to a digest.
      const resolve = local ? "never" : "always";
      const help = await s.run("docker stack deploy --help", { allowFailure: true });
      const detach = /--detach\b/.test(help.stdout) ? " --detach=true" : "";
      await s.run(`docker stack deploy --prune --resolve-image ${resolve}${detach} --compose-file ${shellQuote(file)} ${shellQuote(rendered.stack)}`, { timeoutMs: STACK_DEPLOY_TIMEOUT_MS });
      return;
    }
  }
}
