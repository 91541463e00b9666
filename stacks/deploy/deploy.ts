// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * `hcloud-swarm stack deploy`: render, inspect the cluster, have Docker's own loader read the
 * rendered file (judge.ts), lint that reading with what was found, check that every service can
 * run and choose the placement pins (precheck.ts), then recreate or create the networks it needs
 * encrypted, create missing secrets, label the pinned nodes, upload exactly the linted reading and
 * `docker stack deploy` it, and wait for the services to converge. Nothing is changed when the
 * lint or the precheck refuses; a repeat changes nothing.
 */
import type { Inventory } from "../../inventory/inventory";
import { shellQuote } from "../../transport/shell";
import type { SshSession } from "../../transport/ssh";
import { ValidationError } from "../../common/problems";
import { canonicalText } from "../reading/canonical";
import {
  networkUsers,
  readNodes,
  overlayNetworks,
  runningTasksPerNode,
  secretNames,
  stackServices,
} from "../../swarm/facts";
import { STABLE_MS, waitForConvergence, type ConvergeReport } from "./converge";
import { settledWithoutChange } from "./settled";
import { isGoMap } from "../reading/dialect";
import { type Judgement, judgeForDeploy, managerContext, REMOTE_ENV } from "../reading/judge";
import { imageEngineProblems } from "../lint/image-engine";
import { lintJudged, lintWarnings } from "../lint/lint";
import { managerFiles } from "./manager-files";
import { addLabels } from "../../swarm/node-update";
import { describePin, type PinAction, type PinRequest } from "../placement/placement-pins";
import type { PinRecord } from "../placement/pin-history";
import { describeRecord, readPinRecords, writePinRecord } from "./pin-records";
import { DeployRefusedError, precheckDeploy } from "../placement/precheck";
import {
  type DeployAction,
  describeAction,
  lintContext,
  planDeploy,
  planExistingNetworks,
  stackNetworks,
} from "./plan";
import { DEFAULT_MTU, MTU_OPTION, renderStack, type RenderedStack } from "../template/render";
import { defaultSecretsFile, generateSecret, saveSecrets, type GeneratedSecret } from "./secrets";
import { chooseSecretVersions, readSecretsFile } from "./secret-versions";
import { removeOldSecrets } from "./secret-cleanup";
import { type Finding, formatFinding } from "../reading/source";
import { type StackText, stackText } from "../reading/stack-text";
import { readStack } from "../reading/structure";
import type { StackFile } from "../template/template";

/** Where rendered stack files live on the manager, relative to the SSH user's home. */
export const REMOTE_DIR = ".hcloud-swarm/stacks";
/** `docker stack deploy` itself returns in seconds; allow for a slow manager under load. */
const STACK_DEPLOY_TIMEOUT_MS = 120_000;

export interface DeployArgs {
  readonly source: StackFile;
  /** The source's text, when the caller has already wrapped it (stack-text.ts). Default: wrapped here, once. */
  readonly template?: StackText;
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
  /**
   * Values for the secrets deploy must create, made and kept beforehand (the Pulumi path keeps
   * them in state: secret-values.ts). A missing one is an error. Default: generated here.
   */
  readonly secretValues?: Readonly<Record<string, GeneratedSecret>>;
  /**
   * The values the last deploy from the same state used (the Pulumi path). A value not among them
   * never replaces a secret the cluster has (secret-versions.ts). Default: every value is deliberate.
   */
  readonly previousSecretValues?: Readonly<Record<string, GeneratedSecret>>;
  /** Nodes chosen for placement pins that no node holds yet (`--pin label=node`). Default: the least loaded eligible node. */
  readonly pins?: readonly PinRequest[];
  /**
   * Start the stack even where its pinned data is not (the recorded holder is gone or lost the
   * label), and record the new holder (`--accept-empty`). Default false: such a deploy is refused.
   */
  readonly acceptEmpty?: boolean;
  /** How the user says acceptEmpty where they run deploy, for the refusal. Default "--accept-empty". */
  readonly acceptHint?: string;
  /** How long to wait for slow but healthy services to converge. Default CONVERGE_TIMEOUT_MS in converge.ts. */
  readonly convergeTimeoutMs?: number;
  /** Progress lines; never given secret values. Default: none. */
  readonly log?: (line: string) => void;
  /** Where to look for a local Docker CLI when the manager's lacks `docker stack config`. Default: this process's PATH. */
  readonly localDockerPath?: string;
}

export interface DeployResult {
  readonly stack: string;
  /** Hash of the rendered file, as labelled on every service. */
  readonly hash: string;
  /** Human-readable actions taken, in order; empty when the stack was already as rendered. */
  readonly actions: readonly string[];
  readonly notices: readonly string[];
  /** Who judged what Docker deploys, e.g. "docker stack config on manager-1 (…)". */
  readonly judge: string;
  /** Exactly the text uploaded and deployed: the judge's reading, linted, in a form every YAML reader reads alike. */
  readonly deployedText: string;
  /** Where generated secrets were written, when any were generated. */
  readonly secretsFile?: string;
  readonly converge: ConvergeReport;
}

/** The lint refused the stack; `findings` are formatted lines naming file, stack, network and line. */
export class LintRefusedError extends ValidationError {
  constructor(stack: string, findings: readonly string[], judge: string) {
    super(`stack "${stack}" was refused by lint (judged by ${judge}); nothing was deployed`, findings);
    this.message = `stack "${stack}" was refused by lint (judged by ${judge}); nothing was deployed:\n${findings.map((f) => `  - ${f}`).join("\n")}`;
    this.name = "LintRefusedError";
  }
}

export function renderFor(
  args: Pick<DeployArgs, "source" | "template" | "stack" | "vars" | "inventory" | "localImage"> & {
    readonly dnsrr?: boolean;
    readonly secretNames?: Readonly<Record<string, string>>;
  },
): RenderedStack {
  return renderStack(args.template ?? stackText(args.source.text, args.source.file), {
    stack: args.stack ?? args.source.defaultName,
    vars: args.vars ?? {},
    mtu: args.inventory.swarm?.overlayMtu ?? DEFAULT_MTU,
    ...(args.localImage ? { localImage: args.localImage } : {}),
    ...(args.dnsrr ? { dnsrr: true } : {}),
    ...(args.secretNames ? { secretNames: args.secretNames } : {}),
  });
}

/**
 * Test beds only (local images): does the manager's kernel have IPVS? The namespace bed's does not,
 * so its services need dnsrr; the VM bed's stock kernel does, so they keep VIP mode and the mesh.
 */
async function lacksIpvs(s: SshSession): Promise<boolean> {
  return (await s.run("test -e /proc/net/ip_vs", { allowFailure: true })).code !== 0;
}

/** service → image of the stack file as written (template references left as they are). */
function sourceImages(template: StackText): Array<readonly [string, string]> {
  const data = template.dialect().data;
  const services = isGoMap(data) && isGoMap(data.services) ? data.services : undefined;
  return Object.entries(services ?? {}).flatMap(([name, svc]) =>
    isGoMap(svc) && typeof svc.image === "string" ? [[name, svc.image] as const] : [],
  );
}

/** Deploys over an open session to a manager. */
export async function deployStack(s: SshSession, args: DeployArgs): Promise<DeployResult> {
  const log = args.log ?? (() => undefined);
  const mtu = args.inventory.swarm?.overlayMtu ?? DEFAULT_MTU;
  const dnsrr = args.localImage !== undefined && (await lacksIpvs(s));
  const base = renderFor({ ...args, dnsrr });
  const existing = await secretNames(s);
  const before = await stackServices(s, base.stack);
  const secretsFile = args.secretsFile ?? defaultSecretsFile(args.inventory.cluster ?? "hcloud-swarm", base.stack);
  // Each value under its own name (secret-versions.ts): a changed value reaches the services.
  const choice = chooseSecretVersions(
    base.secrets,
    args.secretValues ?? readSecretsFile(secretsFile, base.secrets),
    existing,
    new Set(before.flatMap((x) => x.secrets)),
    args.secretValues ? undefined : (spec) => generateSecret(base.stack, spec),
    (name) => !args.previousSecretValues || args.previousSecretValues[name] !== undefined,
  );
  for (const n of choice.notes) log(`${base.stack}: ${n}`);
  const rendered = renderFor({ ...args, dnsrr, secretNames: choice.names });
  for (const n of rendered.notices) log(n);
  const facts = {
    networks: await overlayNetworks(s),
    secrets: existing,
    services: before,
    networkUsers: await networkUsers(s),
  };
  const { judgement, text, findings } = await judgeAndLint(s, args, rendered, facts, mtu);
  log(
    `${rendered.stack}: judged by ${judgement.judge}${judgement.skipped.length ? ` (not used: ${judgement.skipped.join("; ")})` : ""}`,
  );
  for (const w of judgement.warnings) log(`${rendered.stack}: Docker says: ${w}`);
  for (const w of lintWarnings({ source: rendered.template, judgement })) log(`WARNING: ${w}`);
  if (findings.refused.length > 0)
    throw new LintRefusedError(rendered.stack, findings.refused.map(formatFinding), judgement.judge);
  const nodes = await readNodes(s);
  const pre = precheckDeploy({
    stack: rendered.stack,
    text,
    pins: rendered.meta.pins.map((p) => p.label),
    generatedSecrets: rendered.secrets.map((x) => x.name),
    existingSecrets: facts.secrets,
    nodes,
    load: await runningTasksPerNode(s),
    requests: args.pins ?? [],
    inventory: args.inventory.nodes,
    records: await readPinRecords(s),
    acceptEmpty: args.acceptEmpty === true,
    ...(args.acceptHint ? { acceptHint: args.acceptHint } : {}),
  });
  // The images as the user wrote them: on the test bed the rendered stack runs a local image instead.
  pre.problems.push(
    ...imageEngineProblems(
      sourceImages(rendered.template),
      nodes.map((n) => [n.hostname || n.id, n.engineVersion ?? ""] as const),
    ),
  );
  if (pre.problems.length > 0) throw new DeployRefusedError(rendered.stack, pre.problems);
  for (const w of pre.warnings) log(`WARNING: ${w}`);

  const serviceCount = Object.keys((judgement.data?.services ?? {}) as object).length;
  const planned = planDeploy(rendered, facts, mtu, serviceCount, findings.networks);
  // Pins before the stack: its services' constraints name the labels. The history before the
  // stack too: once a task may have written data, the swarm knows where.
  const actions: Step[] = [
    ...planned.filter((a) => a.kind !== "deploy-stack"),
    ...pre.pinActions.map((pin) => ({ kind: "pin" as const, pin })),
    ...pre.recordWrites.map((record) => ({ kind: "record" as const, record })),
    ...planned.filter((a) => a.kind === "deploy-stack"),
  ];
  const generated = planned.flatMap((a) => (a.kind === "create-secret" ? [valueFor(a.name, choice.values)] : []));
  // Kept before they exist in the cluster: a secret created but never written down would be lost for good.
  if (args.keepGenerated)
    args.keepGenerated([
      ...choice.fresh,
      // The Pulumi path: the kept values of the versions created now, under their `<stack>_<key>` names.
      ...rendered.secrets.flatMap((x) => {
        const kept = choice.values[x.name] ? args.secretValues?.[`${rendered.stack}_${x.key}`] : undefined;
        return kept ? [kept] : [];
      }),
    ]);
  else saveSecrets(secretsFile, choice.fresh);
  const done: string[] = [];
  for (const a of actions) {
    const what =
      a.kind === "pin" ? describePin(a.pin) : a.kind === "record" ? describeRecord(a.record) : describeAction(a);
    if (a.kind === "pin") await addLabels(s, a.pin.nodeId, a.pin.labels);
    else if (a.kind === "record") await writePinRecord(s, a.record);
    else await apply(s, a, rendered, generated, text, args.localImage !== undefined);
    done.push(what);
    log(`${rendered.stack}: ${what}`);
  }
  if (actions.length === 0)
    log(`${rendered.stack}: nothing to do, the cluster already runs this rendering (${rendered.hash})`);
  const converge = await convergeAfter(s, actions.length, rendered.stack, facts.services, serviceCount, args, log);
  // Only once the services run on the new versions: Docker refuses to remove a secret a service still uses.
  if (converge.converged) done.push(...(await removeOldSecrets(s, rendered.stack, rendered.secrets, log)));
  return {
    stack: rendered.stack,
    hash: rendered.hash,
    actions: done,
    notices: rendered.notices,
    judge: judgement.judge,
    deployedText: text,
    ...(choice.fresh.length > 0 && !args.keepGenerated ? { secretsFile } : {}),
    converge,
  };
}

/** Waits for the services to converge; a deploy that changed nothing returns at once when settledWithoutChange proves nothing moves. */
async function convergeAfter(
  s: SshSession,
  applied: number,
  stack: string,
  before: DeployFacts["services"],
  serviceCount: number,
  args: DeployArgs,
  log: (line: string) => void,
): Promise<ConvergeReport> {
  if (applied === 0) {
    const settled = await settledWithoutChange(s, stack, before, serviceCount);
    if (settled.settled) {
      log(
        `${stack}: unchanged, and every task has run for ${STABLE_MS / 1000} s or more: converged, nothing to wait for`,
      );
      return settled.report;
    }
    log(`${stack}: unchanged, but waiting: ${settled.why}`);
  }
  return waitForConvergence(s, stack, serviceCount, {
    ...(args.convergeTimeoutMs ? { timeoutMs: args.convergeTimeoutMs } : {}),
    log,
  });
}

type DeployFacts = Parameters<typeof planDeploy>[1];

/**
 * Render → judge → lint: Docker's reading of the rendered file, linted with the source's lines and
 * the cluster's facts, plus the check of the networks it already has. Returns the text to deploy:
 * exactly the reading that was linted.
 */
async function judgeAndLint(
  s: SshSession,
  args: DeployArgs,
  rendered: RenderedStack,
  facts: Parameters<typeof planDeploy>[1],
  mtu: number,
): Promise<{
  judgement: Judgement;
  text: string;
  findings: { refused: Finding[]; networks: ReturnType<typeof planExistingNetworks> };
}> {
  const manager = await managerContext(s, REMOTE_DIR);
  const judgement = await judgeForDeploy(
    s,
    manager,
    rendered.rendering,
    args.localDockerPath !== undefined ? { searchPath: args.localDockerPath } : {},
  );
  // Docker reads the stack's files on the manager (only the stack file is uploaded): judge them there.
  const files = await managerFiles(s, judgement.data, judgement.baseDir);
  const refused = lintJudged(
    {
      source: rendered.template,
      stack: rendered.stack,
      judgement,
      meta: rendered.meta,
      files,
    },
    lintContext(facts),
  );
  // A manager CLI without `docker stack config` predates Docker 23, and those refuse a file without
  // version: ("unsupported Compose file version: 1.0"); say so before anything is created.
  if (
    judgement.kind !== "manager" &&
    rendered.rendering.dialect().data !== undefined &&
    !/^version\s*:/m.test(rendered.text)
  ) {
    refused.push({
      file: args.source.file,
      line: 1,
      stack: rendered.stack,
      rule: "docker-config",
      message: `the manager's Docker CLI (${manager.docker}) is older than Docker 23 and refuses a stack file without version:; add version: "3.8" at the top`,
    });
  }
  const none = { recreate: [], refuse: [] };
  if (!judgement.data || refused.length > 0) return { judgement, text: "", findings: { refused, networks: none } };
  const networks = planExistingNetworks(
    stackNetworks(readStack(judgement.data).model, rendered.stack, rendered.meta.externalNetworks),
    facts,
    mtu,
    rendered.stack,
  );
  for (const r of networks.refuse) {
    refused.push({
      file: args.source.file,
      line: rendered.template.origin(judgement.data, r.network.path),
      stack: rendered.stack,
      network: r.network.key,
      rule: "existing-network",
      message: r.message,
    });
  }
  const text = canonicalText(
    judgement.data,
    `Rendered by hcloud-swarm from ${args.source.file} as stack "${rendered.stack}", judged by ${judgement.judge}.\nThis is Docker's reading of it, as linted; edit the template, not this file.`,
  );
  return { judgement, text, findings: { refused, networks } };
}

function valueFor(name: string, values: Readonly<Record<string, GeneratedSecret>>): GeneratedSecret {
  const value = values[name];
  // Never make a value here that was not written down first: it could not be given back later.
  if (!value) throw new Error(`internal: no written-down value for secret ${name}; it is not created`);
  return value;
}

/** A deploy step: the plan's actions, labelling a node for a placement pin, and recording where pinned data is. */
type Step =
  | DeployAction
  | { readonly kind: "pin"; readonly pin: PinAction }
  | { readonly kind: "record"; readonly record: PinRecord };

async function apply(
  s: SshSession,
  a: DeployAction,
  rendered: RenderedStack,
  generated: readonly GeneratedSecret[],
  text: string,
  local: boolean,
): Promise<void> {
  const create = (name: string, mtu: number) =>
    `docker network create --driver overlay --attachable --opt encrypted --opt ${MTU_OPTION}=${mtu} --label hcloud-swarm.managed=true ${shellQuote(name)}`;
  switch (a.kind) {
    case "recreate-network": {
      // Docker refuses to remove a network that a service or container still uses: then nothing is lost.
      const r = await s.run(`docker network rm ${shellQuote(a.name)}`, { allowFailure: true });
      if (r.code !== 0)
        throw new Error(
          `stack ${rendered.stack}: ${a.why}, and Docker would not remove it (${(r.stderr || r.stdout).trim()}); nothing was deployed. Remove what uses it (docker network inspect ${a.name}), then deploy again`,
        );
      if (a.external) await s.run(create(a.name, a.mtu));
      return;
    }
    case "create-network":
      await s.run(create(a.name, a.mtu));
      return;
    case "create-secret": {
      const secret = generated.find((g) => g.name === a.name);
      if (!secret) throw new Error(`internal: no generated value for ${a.name}`);
      // The value travels on stdin only: never on a command line, where `ps` would show it.
      await s.run(
        `docker secret create --label hcloud-swarm.stack=${shellQuote(rendered.stack)} ${shellQuote(a.name)} -`,
        { stdin: secret.content },
      );
      return;
    }
    case "deploy-stack": {
      const file = `${REMOTE_DIR}/${rendered.stack}.yml`;
      await s.upload(text, file, { mode: "0600" });
      // Offline images on the test bed must not be resolved against a registry; real ones are pinned to a digest.
      const resolve = local ? "never" : "always";
      const help = await s.run("docker stack deploy --help", { allowFailure: true });
      const detach = /--detach\b/.test(help.stdout) ? " --detach=true" : "";
      // The judge's variables only (HOME, PATH): the text holds no interpolation left but `$$`, which stays `$`.
      await s.run(
        `${REMOTE_ENV} docker stack deploy --prune --resolve-image ${resolve}${detach} --compose-file ${shellQuote(file)} ${shellQuote(rendered.stack)}`,
        { timeoutMs: STACK_DEPLOY_TIMEOUT_MS },
      );
      return;
    }
  }
}
