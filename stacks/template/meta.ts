// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The `x-hcloud-swarm` block of a stack file: the variables it takes, the secrets it wants
 * generated, the external networks deploy must guarantee encrypted, the host access it declares
 * (exceptions.ts), and the node labels it pins its data to. `docker stack deploy` ignores x- keys,
 * and the renderer strips this one anyway.
 */
import { isMap, isSeq, isScalar, type Node } from "yaml";
import { LABEL_KEY, RESERVED_PREFIX } from "../../inventory/labels";
import { parseConstraint, requiredTrueLabel } from "../placement/constraints";
import { entries, type Finding, lineOf, mapAt, root, type StackSource } from "../reading/source";
import { type DeclaredException, readExceptions } from "../lint/exceptions";

export const META_KEY = "x-hcloud-swarm";
/** Variable names: what `--var name=value` and `{{ name }}` accept. */
export const VAR_NAME = /^[a-z][a-z0-9_]*$/;
/** Always defined: the stack's name, so routers and secrets of two stacks never collide. */
export const BUILTIN_VARS = ["stack"] as const;

export interface VariableSpec {
  readonly name: string;
  readonly description: string;
  /** Absent: the variable is required. */
  readonly default?: string;
  readonly line: number;
}

export type SecretKind = "password" | "htpasswd";

export interface SecretSpec {
  /** Key under the top-level `secrets:`; the Docker secret is named `<stack>_<key>`. */
  readonly key: string;
  readonly description: string;
  readonly generate: SecretKind;
  /** htpasswd only: the user name of the generated line. Default "admin". */
  readonly user: string;
}

export interface StackMeta {
  readonly description: string;
  readonly variables: readonly VariableSpec[];
  readonly secrets: readonly SecretSpec[];
  /** External networks that deploy creates encrypted when missing and refuses when plain. */
  readonly externalNetworks: readonly string[];
  /** Host access the stack declares it needs (`allow:`), exempt from the host-access rules. */
  readonly exceptions: readonly DeclaredException[];
  /** Node labels the stack's data is pinned to; deploy labels one node for each (see placement-pins.ts). */
  readonly pins: readonly PinSpec[];
}

/**
 * A placement pin: services constrain to `node.labels.<label> == true` because their data lives
 * in a local volume on that node. On the first deploy, deploy chooses the node and labels it.
 */
export interface PinSpec {
  readonly label: string;
  readonly description: string;
  readonly line: number;
}

const text = (v: unknown): string | undefined => (isScalar(v) && v.value !== null ? String(v.value) : undefined);

/** Reads the block; malformed entries become "template" findings naming the line. */
export function readMeta(src: StackSource): { meta: StackMeta; findings: Finding[] } {
  const findings: Finding[] = [];
  const bad = (node: Node | undefined, message: string): void => {
    findings.push({ file: src.file, line: lineOf(src, node), stack: src.stack, rule: "template", message });
  };
  const top = root(src);
  const block = top?.get(META_KEY, true);
  const meta = {
    description: "",
    variables: [] as VariableSpec[],
    secrets: [] as SecretSpec[],
    externalNetworks: [] as string[],
    exceptions: [] as DeclaredException[],
    pins: [] as PinSpec[],
  };
  if (block === undefined) return { meta, findings };
  if (!isMap(block)) {
    bad(block as Node, `${META_KEY} must be a mapping with variables, secrets, external-networks and pins`);
    return { meta, findings };
  }
  meta.description = text(block.get("description", true)) ?? "";
  for (const [name, value, node] of entries(mapAt(block, "variables"))) {
    if (!VAR_NAME.test(name) || (BUILTIN_VARS as readonly string[]).includes(name)) {
      bad(node, `variable "${name}" must be lowercase letters, digits and _ (and not "stack", which is built in)`);
      continue;
    }
    const spec = isMap(value) ? value : undefined;
    const def = spec?.get("default", true);
    meta.variables.push({
      name,
      description: text(spec?.get("description", true)) ?? "",
      ...(def !== undefined ? { default: text(def) ?? "" } : {}),
      line: lineOf(src, node),
    });
  }
  const secretsTop = mapAt(top, "secrets");
  for (const [key, value, node] of entries(mapAt(block, "secrets"))) {
    const spec = isMap(value) ? value : undefined;
    const generate = text(spec?.get("generate", true)) ?? "password";
    if (generate !== "password" && generate !== "htpasswd")
      bad(node, `secret "${key}": generate must be "password" or "htpasswd", got "${generate}"`);
    const declared = mapAt(secretsTop, key);
    if (!declared || declared.get("external") !== true) {
      bad(
        node,
        `secret "${key}" must also be declared under the top-level secrets: as {external: true}; deploy creates it before the stack`,
      );
    }
    meta.secrets.push({
      key,
      description: text(spec?.get("description", true)) ?? "",
      generate: generate === "htpasswd" ? "htpasswd" : "password",
      user: text(spec?.get("user", true)) ?? "admin",
    });
  }
  const nets = block.get("external-networks", true);
  if (nets !== undefined && !isSeq(nets))
    bad(nets as Node, `${META_KEY}.external-networks must be a list of network names`);
  if (isSeq(nets)) {
    for (const n of nets.items) {
      const name = text(n);
      if (name === undefined) bad(n as Node, `${META_KEY}.external-networks entries must be network names`);
      else meta.externalNetworks.push(name);
    }
  }
  const declared = readExceptions(src, block);
  meta.exceptions.push(...declared.exceptions);
  findings.push(...declared.findings);
  meta.pins.push(...readPins(src, block, bad));
  for (const k of ["variables", "secrets", "pins"]) {
    const v = block.get(k, true);
    if (v !== undefined && v !== null && !isMap(v) && !(isScalar(v) && v.value === null))
      bad(v as Node, `${META_KEY}.${k} must be a mapping of names`);
  }
  return { meta, findings };
}

/** `pins:` — label → {description}; each must be a usable label that some service constrains to `== true`. */
function readPins(
  src: StackSource,
  block: ReturnType<typeof mapAt>,
  bad: (node: Node | undefined, message: string) => void,
): PinSpec[] {
  const pins: PinSpec[] = [];
  const services = entries(mapAt(root(src), "services"));
  const constraintsOf = (svc: unknown): string[] => {
    const list = mapAt(mapAt(isMap(svc) ? svc : undefined, "deploy"), "placement")?.get("constraints", true);
    return isSeq(list) ? list.items.map((i) => text(i) ?? "") : [];
  };
  for (const [label, value, node] of entries(mapAt(block, "pins"))) {
    if (!LABEL_KEY.test(label) || label.startsWith(RESERVED_PREFIX)) {
      bad(node, `pin "${label}" must be a node label name (letters, digits, ".", "_", "-"; not "${RESERVED_PREFIX}*")`);
      continue;
    }
    if (value !== null && !isMap(value) && !(isScalar(value) && value.value === null)) {
      bad(node, `pin "${label}" must be a mapping such as {description: "where the data lives"}`);
      continue;
    }
    const pinsTo = (c: string) => {
      const p = parseConstraint(c);
      return p.ok && requiredTrueLabel(p.constraint) === label;
    };
    if (!services.some(([, svc]) => constraintsOf(svc).some(pinsTo))) {
      bad(
        node,
        `pin "${label}" is declared but no service has the placement constraint "node.labels.${label} == true"`,
      );
    }
    pins.push({
      label,
      description: text(isMap(value) ? value.get("description", true) : undefined) ?? "",
      line: lineOf(src, node),
    });
  }
  return pins;
}
