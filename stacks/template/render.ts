// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Turns a template into the file `docker stack deploy` gets: variables filled, the cluster's
 * MTU on every overlay the stack creates, declared secrets named `<stack>_<key>`, and a content
 * hash on every service so a redeploy of the same thing can be recognised and skipped.
 */
import { createHash } from "crypto";
import { isMap, isSeq, YAMLMap, YAMLSeq, type Document } from "yaml";
import { throwIfProblems } from "../../common/problems";
import { META_KEY, readMeta, type SecretSpec, type StackMeta } from "./meta";
import { entries, mapAt, root } from "../reading/source";
import { type StackText, stackText } from "../reading/stack-text";
import { nameProblem } from "../../transport/shell";
import { yamlFindings } from "../lint/lint";
import { toDockerReading } from "./render-dialect";
import { hasRefs, resolveVars, substitute } from "./variables";

/** Underlay MTU when the inventory says nothing: a public NIC. */
export const DEFAULT_MTU = 1500;
export const MTU_OPTION = "com.docker.network.driver.mtu";
/** Service label carrying the rendered file's hash; deploy compares it to skip no-op redeploys. */
export const HASH_LABEL = "hcloud-swarm.stack-hash";
/** Service label recording the real image when --local-images swapped it. */
export const ORIGINAL_IMAGE_LABEL = "hcloud-swarm.original-image";
/**
 * Keeps a local stand-in task alive and lets it stop at once on SIGTERM (busybox as PID 1
 * ignores it otherwise, and every stop would take Docker's 10 s timeout).
 */
export const KEEPALIVE = "trap 'exit 0' TERM INT; while true; do sleep 1; done";

export interface RenderOptions {
  /** Stack name. Default: the name the file or template implies. */
  readonly stack: string;
  /** Values for the template's variables (`--var`). Default {}. */
  readonly vars?: Readonly<Record<string, string>>;
  /** Underlay MTU written as com.docker.network.driver.mtu on every overlay the stack creates. Default 1500. */
  readonly mtu?: number;
  /** Test bed only: replace every image by this local one running a keep-alive loop. Default: none. */
  readonly localImage?: string;
  /** Test bed only: endpoint_mode dnsrr on every service, for a kernel without IPVS (VIP mode needs it). Default false. */
  readonly dnsrr?: boolean;
  /** Docker name of each generated secret by key (versioned by deploy: secret-versions.ts). Default `<stack>_<key>`. */
  readonly secretNames?: Readonly<Record<string, string>>;
}

export interface RenderedStack {
  readonly stack: string;
  /** The template that was rendered: lint places its findings on this text's lines. */
  readonly template: StackText;
  readonly text: string;
  /** The rendered text, a new text, wrapped once: the judges read this. */
  readonly rendering: StackText;
  /** sha256 of the rendered file before the hash labels were added. */
  readonly hash: string;
  readonly meta: StackMeta;
  /** Secrets deploy must ensure, with their Docker names. */
  readonly secrets: ReadonlyArray<SecretSpec & { readonly name: string }>;
  /** External networks deploy must ensure encrypted. */
  readonly externalNetworks: readonly string[];
  /** Things the user must be told (e.g. images were swapped). */
  readonly notices: readonly string[];
}

/** Renders a stack file's text; throws a ValidationError listing every problem. */
export function renderStack(template: StackText, opts: RenderOptions): RenderedStack {
  const file = template.file;
  const stack = opts.stack;
  const problems: string[] = [];
  const badName = nameProblem("stack", stack, "the stack name");
  if (badName) problems.push(badName);
  const mtu = opts.mtu ?? DEFAULT_MTU;
  if (!Number.isInteger(mtu) || mtu < 1280 || mtu > 9000)
    problems.push(`MTU ${mtu} must be a whole number from 1280 to 9000 (1450 on a Hetzner private network, else 1500)`);
  const parsed = template.source(stack);
  const structure = yamlFindings(parsed);
  const { meta, findings } = readMeta(parsed);
  problems.push(...[...structure, ...findings].map((f) => `${f.file}:${f.line}: ${f.message}`));
  // Deploy creates these by name on a manager's command line.
  for (const n of meta.externalNetworks)
    problems.push(
      ...[nameProblem("network", n, `external network ${JSON.stringify(n)}`)].filter(
        (p): p is string => p !== undefined,
      ),
    );
  for (const s of meta.secrets)
    problems.push(
      ...[
        nameProblem("secret", `${stack}_${s.key}`, `secret ${JSON.stringify(s.key)} (Docker name <stack>_<key>)`),
      ].filter((p): p is string => p !== undefined),
    );
  throwIfProblems(`stack ${file}`, problems);
  const { values, problems: varProblems } = resolveVars(parsed, meta.variables, opts.vars ?? {}, { stack });
  throwIfProblems(`stack ${file}`, varProblems);

  // The template's Document is shared (lint reads it after the render): edit a copy, not the text's reading.
  const src = { ...parsed, doc: parsed.doc.clone() as typeof parsed.doc };
  const doc = src.doc;
  // Edit what Docker reads (merges expanded, its integers), so the rendering means what the template means.
  toDockerReading(doc);
  substitute(doc, values);
  if (hasRefs(doc))
    throw new Error(`stack ${file}: a {{ variable }} was left unreplaced; this is a bug in the renderer`);
  const top = root(src) as YAMLMap;
  // Keep only what still matters after rendering: the networks deploy guarantees encrypted, so
  // that linting the rendered file gives the same answer as linting the template.
  top.delete(META_KEY);
  const kept: Record<string, unknown> = {};
  if (meta.externalNetworks.length > 0) kept["external-networks"] = [...meta.externalNetworks];
  // Declared host access stays visible in the rendered file, so that linting it gives the template's answer.
  if (meta.exceptions.length > 0)
    kept.allow = meta.exceptions.map((e) => ({
      service: e.service,
      [e.kind]: e.kind === "privileged" ? true : e.value,
      reason: e.reason,
    }));
  if (Object.keys(kept).length > 0) top.add(doc.createPair(META_KEY, kept));
  doc.commentBefore = ` Rendered by hcloud-swarm from ${file} as stack "${stack}". Edit the template, not this file.`;
  injectMtu(doc, mtu);
  const dockerName = (key: string) => opts.secretNames?.[key] ?? `${stack}_${key}`;
  for (const s of meta.secrets) mapAt(mapAt(top, "secrets"), s.key)?.set("name", dockerName(s.key));
  const notices: string[] = [];
  if (opts.localImage) notices.push(...useLocalImage(doc, opts.localImage));
  if (opts.dnsrr) notices.push(useDnsrr(doc));

  const body = doc.toString({ lineWidth: 0 });
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 16);
  for (const [, svc] of entries(mapAt(top, "services"))) if (isMap(svc)) addLabel(doc, svc, HASH_LABEL, hash);
  const text = doc.toString({ lineWidth: 0 });
  return {
    stack,
    template,
    text,
    // Findings on the rendering name the user's file, as they always did.
    rendering: stackText(text, file),
    hash,
    meta,
    secrets: meta.secrets.map((s) => ({ ...s, name: dockerName(s.key) })),
    externalNetworks: meta.externalNetworks,
    notices,
  };
}

function injectMtu(doc: Document, mtu: number): void {
  const top = doc.contents as YAMLMap;
  for (const [key, value] of entries(mapAt(top, "networks"))) {
    if (isMap(value) && value.get("external") === true) continue;
    let net = isMap(value) ? value : undefined;
    if (!net) {
      net = doc.createNode({}) as YAMLMap;
      mapAt(top, "networks")?.set(key, net);
    }
    const driver = net.get("driver");
    if (driver !== undefined && driver !== "overlay") continue;
    // Explicit, so nobody reading the rendered file has to know stack deploy's default.
    if (driver === undefined) net.set("driver", "overlay");
    let opts = mapAt(net, "driver_opts");
    if (!opts) {
      opts = doc.createNode({}) as YAMLMap;
      net.set("driver_opts", opts);
    }
    opts.set(MTU_OPTION, String(mtu));
  }
}

function deployOf(doc: Document, svc: YAMLMap): YAMLMap {
  let deploy = mapAt(svc, "deploy");
  if (!deploy) {
    deploy = doc.createNode({}) as YAMLMap;
    svc.set("deploy", deploy);
  }
  return deploy;
}

/** Adds a service label (deploy.labels), in whichever form — list or mapping — the file uses. */
function addLabel(doc: Document, svc: YAMLMap, key: string, value: string): void {
  const deploy = deployOf(doc, svc);
  const labels = deploy.get("labels", true);
  if (isSeq(labels)) {
    (labels as YAMLSeq).items = (labels as YAMLSeq).items.filter(
      (i) => !String((i as { value?: unknown }).value ?? "").startsWith(`${key}=`),
    );
    (labels as YAMLSeq).add(doc.createNode(`${key}=${value}`));
  } else if (isMap(labels)) labels.set(key, value);
  else deploy.set("labels", doc.createNode([`${key}=${value}`]));
}

function useLocalImage(doc: Document, image: string): string[] {
  const notices: string[] = [];
  for (const [name, svc] of entries(mapAt(doc.contents as YAMLMap, "services"))) {
    if (!isMap(svc)) continue;
    const original = String(svc.get("image") ?? "");
    svc.set("image", image);
    svc.delete("command");
    const checked = svc.has("healthcheck");
    svc.delete("healthcheck");
    svc.set("entrypoint", doc.createNode(["/bin/sh", "-c", KEEPALIVE]));
    addLabel(doc, svc, ORIGINAL_IMAGE_LABEL, original);
    notices.push(
      `LOCAL IMAGES: service ${name} runs ${image} (a keep-alive loop) INSTEAD OF ${original}; nothing of ${original} is tested${checked ? ", and its healthcheck is dropped (it runs the image's own commands), so converged means running, not healthy" : ""}`,
    );
  }
  return notices;
}

function useDnsrr(doc: Document): string {
  for (const [, svc] of entries(mapAt(doc.contents as YAMLMap, "services")))
    if (isMap(svc)) deployOf(doc, svc).set("endpoint_mode", "dnsrr");
  return "NO IPVS: endpoint_mode dnsrr on every service, because this cluster's kernel has no IPVS, which VIP mode and the routing mesh need";
}
