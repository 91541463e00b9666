// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Declared exceptions to the host-access rules, in a stack's `x-hcloud-swarm` block:
 *
 *   x-hcloud-swarm:
 *     allow:
 *       - service: traefik
 *         bind: /var/run/docker.sock
 *         reason: the swarm provider reads services and their labels from the Docker API
 *
 * Each entry names one service and exactly one of `bind: PATH`, `privileged: true`,
 * `cap_add: CAP` (or a list) and `network_mode: host`, with a reason. What is declared is visible
 * in the file and in review; everything else that reaches the host is refused by lint.
 */
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from "yaml";
import { entries, type Finding, lineOf, type StackSource } from "./source";

export type ExceptionKind = "bind" | "privileged" | "cap_add" | "network_mode";

export interface DeclaredException {
  readonly service: string;
  readonly kind: ExceptionKind;
  /** The path for `bind`, the capability for `cap_add`, "true" for privileged, "host" for network_mode. */
  readonly value: string;
  readonly reason: string;
  readonly line: number;
}

const KINDS: readonly ExceptionKind[] = ["bind", "privileged", "cap_add", "network_mode"];

const scalar = (v: unknown): string | undefined => (isScalar(v) && v.value !== null ? String(v.value) : undefined);

/** Reads `allow:` of the block; malformed entries become "template" findings with their lines. */
export function readExceptions(src: StackSource, block: YAMLMap): { exceptions: DeclaredException[]; findings: Finding[] } {
  const exceptions: DeclaredException[] = [];
  const findings: Finding[] = [];
  const bad = (node: unknown, message: string): void => {
    findings.push({ file: src.file, line: lineOf(src, node as Node), stack: src.stack, rule: "template", message: `x-hcloud-swarm.allow: ${message}` });
  };
  const list = block.get("allow", true);
  if (list === undefined || list === null) return { exceptions, findings };
  if (!isSeq(list)) {
    bad(list, "must be a list of {service, bind|privileged|cap_add|network_mode, reason}");
    return { exceptions, findings };
  }
  for (const item of list.items) {
    if (!isMap(item)) {
      bad(item, "each entry must be a mapping such as {service: traefik, bind: /var/run/docker.sock, reason: …}");
      continue;
    }
    const line = lineOf(src, item as Node);
    const service = scalar(item.get("service", true));
    const reason = scalar(item.get("reason", true))?.trim() ?? "";
    const kinds = entries(item).filter(([k]) => (KINDS as readonly string[]).includes(k));
    for (const [k, , node] of entries(item)) {
      if (k !== "service" && k !== "reason" && !(KINDS as readonly string[]).includes(k)) bad(node, `unknown key "${k}"; use service, reason and one of ${KINDS.join(", ")}`);
    }
    if (!service) bad(item, "each entry needs service: the compose service it applies to");
    if (reason === "") bad(item, "each entry needs a reason: why the service needs this access to the host");
    if (kinds.length !== 1) {
      bad(item, `each entry allows exactly one of ${KINDS.join(", ")} (found ${kinds.length}); write one entry per exception`);
      continue;
    }
    const [kind, value, node] = kinds[0] as [ExceptionKind, unknown, Node | undefined];
    const values = kind === "cap_add" && isSeq(value) ? value.items.map(scalar) : [scalar(value)];
    for (const v of values) {
      const ok = v !== undefined && (kind === "bind" ? v.startsWith("/") : kind === "privileged" ? v === "true" : kind === "network_mode" ? v === "host" : /^[A-Z_]+$/.test(v));
      if (!ok) {
        bad(node, kind === "bind" ? "bind must be an absolute host path" : kind === "privileged" ? "privileged must be true" : kind === "network_mode" ? "network_mode must be host" : "cap_add must be a capability name such as NET_ADMIN, or a list of them");
        continue;
      }
      if (service && reason !== "") exceptions.push({ service, kind, value: v as string, reason, line });
    }
  }
  return { exceptions, findings };
}
