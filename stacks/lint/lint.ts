// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The encryption policy for stacks, applied to what Docker will deploy: a judge's reading
 * (judge.ts) of the exact text, with every finding placed on the line the user wrote. `stack lint`
 * runs it on files; `stack deploy` runs it on the rendered stack, with what it found in the
 * cluster, before anything is created, and deploys nothing if it fails. Rules: see RULES.
 */
import * as path from "path";
import { type GoMap, divergentCharacters, isGoMap } from "../reading/dialect";
import { dialectJudge, type Judgement } from "../reading/judge";
import type { At } from "./lint-at";
import { matchExceptions } from "./exceptions";
import { fileRules, type FileView, hostRules, unusedExceptions } from "./lint-host";
import { networkRules } from "./lint-network";
import { portRules } from "./lint-ports";
import { secretRules } from "./lint-secrets";
import { unsetVariableWarnings } from "./lint-variables";
import { readMeta, type StackMeta } from "../template/meta";
import type { ValuePath } from "../reading/origin";
import type { Finding, StackSource } from "../reading/source";
import { type StackText, stackText } from "../reading/stack-text";
import { readStack } from "../reading/structure";

/** Every rule id, with what it refuses (docs/reference/lint-rules.md's table says the same). */
export const RULES: ReadonlyArray<readonly [string, string]> = [
  [
    "unencrypted-overlay",
    "an overlay a service uses (so stack deploy creates it) without the encrypted option, or a service on the implicit plain <stack>_default",
  ],
  [
    "external-network",
    "an external overlay a service uses (by its real name) that is plain in the cluster or not known to be encrypted",
  ],
  [
    "plain-secret",
    "a credential by value in environment or env_file (secretlint's recommended rules, URL and password= shapes, PEM keys, obvious key names)",
  ],
  [
    "public-port",
    "a Docker, control-plane or back-end port published or exposed as the target, by protocol (a back-end port unless declared under x-hcloud-swarm allow: port:), or any port in ingress mode while ingress is plain",
  ],
  [
    "host-access",
    "privileged, cap_add, network_mode: host or the host network (listed, or through default), a local-driver volume that mounts host data, unless declared under x-hcloud-swarm allow:",
  ],
  ["bind-mount", "a bind mount of the Docker socket or of a host path outside the allow-list, unless declared"],
  [
    "file-outside",
    "a secret, config or env_file read from outside the stack's directory, after following symbolic links where Docker reads it",
  ],
  [
    "file-missing",
    "(deploy) a secret, config or env_file that is not on the manager, where Docker reads it: deploy uploads only the stack file",
  ],
  [
    "yaml-dialect",
    "a character or construct that YAML readers read differently (U+2028, U+2029, U+0085, timestamps, tags)",
  ],
  ["docker-config", "a file Docker's own loader refuses"],
  ["yaml", "invalid YAML"],
  ["compose-structure", "a broken compose structure"],
  ["template", "a malformed x-hcloud-swarm block"],
];

export interface LintContext {
  /** Networks seen in the cluster with the `encrypted` option. Default: none (a static lint). */
  readonly encryptedNetworks?: ReadonlySet<string>;
  /** Networks seen in the cluster without it; such an external network is always refused. Default: none. */
  readonly plainNetworks?: ReadonlySet<string>;
  /** The cluster's `ingress` network was seen encrypted. Default false. */
  readonly ingressEncrypted?: boolean;
}

export interface LintInput {
  /** The file the user wrote, read once (stack-text.ts): findings name its file and carry its lines. */
  readonly source: StackText;
  readonly stack: string;
  /** Docker's reading of what will be deployed (the source itself, or its rendering). */
  readonly judgement: Judgement;
  /** The stack's x-hcloud-swarm block. Default: read from the source (deploy passes the rendered stack's). */
  readonly meta?: StackMeta;
  /** Where Docker reads the stack's files. Default: this machine (deploy passes the manager's, manager-files.ts). */
  readonly files?: FileView;
}

export { BACKEND_PORTS, SWARM_PORTS } from "./lint-ports";
export { BIND_ALLOW_LIST, DOCKER_SOCKETS } from "./lint-host";

/** Problems of the text itself, whatever judges it: the yaml package's errors (the renderer reads with it) and dialect differences. */
function textFindings(src: StackSource): Finding[] {
  const f = (line: number, rule: string, message: string): Finding => ({
    file: src.file,
    line,
    stack: src.stack,
    rule,
    message,
  });
  const out = divergentCharacters(src.text).map((p) => f(p.line, "yaml-dialect", p.message));
  for (const e of src.doc.errors) {
    out.push(
      f(
        e.linePos?.[0]?.line ?? 1,
        "yaml",
        `YAML error: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")} (column ${e.linePos?.[0]?.col ?? 1})`,
      ),
    );
  }
  return out;
}

/** What the renderer cannot render: YAML the `yaml` package cannot parse. Everything else is lint's, which names its judge. */
export function yamlFindings(src: StackSource): Finding[] {
  return textFindings(src).filter((f) => f.rule === "yaml");
}

/** Lints Docker's reading of a stack; see the module comment. */
export function lintJudged(input: LintInput, ctx: LintContext = {}): Finding[] {
  const file = input.source.file;
  const src = input.source.source(input.stack);
  const findings = textFindings(src);
  if (src.doc.errors.length === 0) findings.push(...readMeta(src).findings);
  const meta = input.meta ?? readMeta(src).meta;
  const sourceRead = input.source.dialect();
  const sourceData = isGoMap(sourceRead.data) ? sourceRead.data : undefined;
  const data: GoMap | undefined = input.judgement.data;
  const lineOf = (p: ValuePath): number => input.source.origin(data, p);
  const at: At = (p, rule, message, extra = {}) =>
    findings.push({ file, line: lineOf(p), stack: input.stack, rule, message, ...extra });
  // The judged text is the rendering when deploying: a --var value could carry what the template does not.
  if (input.judgement.text !== input.source.text) {
    for (const d of divergentCharacters(input.judgement.text))
      findings.push({
        file,
        line: 1,
        stack: input.stack,
        rule: "yaml-dialect",
        message: `${d.message} (line ${d.line} of the rendered file)`,
      });
  }
  const dialect = input.judgement.kind === "dialect";
  for (const p of input.judgement.problems) {
    // Docker's refusals are docker-config; the dialect reader's are placed by path (structure) or line (YAML).
    const rule = !dialect ? "docker-config" : p.path ? "compose-structure" : "yaml-dialect";
    const where =
      !dialect && p.line !== undefined && p.path === undefined ? ` (line ${p.line} of the judged file)` : "";
    findings.push({
      file,
      line: p.path ? lineOf(p.path) : dialect && p.line ? p.line : 1,
      stack: input.stack,
      rule,
      message: `${p.message}${where}`,
    });
  }
  if (!data) return dedupe(findings);
  const { model, problems } = readStack(data);
  for (const p of problems)
    at(p.path, "compose-structure", p.message, {
      ...(p.service ? { service: p.service } : {}),
      ...(p.network ? { network: p.network } : {}),
    });
  networkRules(input.stack, model, meta.externalNetworks, ctx, at);
  secretRules(model.services, sourceData, at);
  const allow = matchExceptions(meta.exceptions);
  for (const svc of model.services) portRules(svc, ctx, at, (port) => allow.allowed(svc.name, "port", String(port)));
  hostRules(model, allow, at);
  unusedExceptions(allow, (line, message) =>
    findings.push({ file, line, stack: input.stack, rule: "template", message }),
  );
  fileRules(model, input.judgement.baseDir, at, input.files);
  return dedupe(findings).sort((a, b) => a.line - b.line);
}

function dedupe(findings: Finding[]): Finding[] {
  return findings.filter(
    (f, i) =>
      findings.findIndex(
        (g) =>
          g.line === f.line &&
          g.rule === f.rule &&
          g.message === f.message &&
          g.service === f.service &&
          g.network === f.network,
      ) === i,
  );
}

/**
 * What lint says without refusing: port and credential positions filled from variables the judge
 * did not have (lint-variables.ts). The judge's environment is named in its description.
 */
export function lintWarnings(input: Pick<LintInput, "source" | "judgement">): string[] {
  const read = input.source.dialect().data;
  return unsetVariableWarnings(input.source.file, isGoMap(read) ? read : undefined, input.judgement.envNames ?? []);
}

/** Lints a stack file's text with the Docker-dialect judge (synchronous; tests and the demo use it). */
export function lintText(text: string, file: string, stack: string, ctx: LintContext = {}): Finding[] {
  const source = stackText(text, file);
  const judgement = dialectJudge({ judged: source, baseDir: path.posix.dirname(path.posix.resolve(file)) });
  return lintJudged({ source, stack, judgement }, ctx);
}
