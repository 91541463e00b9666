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
 * `cap_add: CAP` (or a list), `network_mode: host` and `port: N` (a back-end port the service
 * really serves to the world, such as MinIO's 9000, which the port list gives to ClickHouse), with
 * a reason. What is declared is visible in the file and in review; everything else that reaches the
 * host, or publishes a back end, is refused by lint. Docker's and control planes' ports cannot be
 * declared: no application serves them.
 */
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from "yaml";
import { SWARM_PORTS } from "./lint-ports";
import { entries, type Finding, lineOf, type StackSource } from "../reading/source";

export type ExceptionKind = "bind" | "privileged" | "cap_add" | "network_mode" | "port";

export interface DeclaredException {
  readonly service: string;
  readonly kind: ExceptionKind;
  /** The path for `bind`, the capability for `cap_add`, "true" for privileged, "host" for network_mode, the number for `port`. */
  readonly value: string;
  readonly reason: string;
  readonly line: number;
}

const KINDS: readonly ExceptionKind[] = ["bind", "privileged", "cap_add", "network_mode", "port"];

const scalar = (v: unknown): string | undefined => (isScalar(v) && v.value !== null ? String(v.value) : undefined);

/** Reads `allow:` of the block; malformed entries become "template" findings with their lines. */
export function readExceptions(
  src: StackSource,
  block: YAMLMap,
): { exceptions: DeclaredException[]; findings: Finding[] } {
  const exceptions: DeclaredException[] = [];
  const findings: Finding[] = [];
  const bad = (node: unknown, message: string): void => {
    findings.push({
      file: src.file,
      line: lineOf(src, node as Node),
      stack: src.stack,
      rule: "template",
      message: `x-hcloud-swarm.allow: ${message}`,
    });
  };
  const list = block.get("allow", true);
  if (list === undefined || list === null) return { exceptions, findings };
  if (!isSeq(list)) {
    bad(list, `must be a list of {service, ${KINDS.join("|")}, reason}`);
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
      if (k !== "service" && k !== "reason" && !(KINDS as readonly string[]).includes(k))
        bad(node, `unknown key "${k}"; use service, reason and one of ${KINDS.join(", ")}`);
    }
    if (!service) bad(item, "each entry needs service: the compose service it applies to");
    if (reason === "") bad(item, "each entry needs a reason: why the service needs this access to the host");
    if (kinds.length !== 1) {
      bad(
        item,
        `each entry allows exactly one of ${KINDS.join(", ")} (found ${kinds.length}); write one entry per exception`,
      );
      continue;
    }
    const [kind, value, node] = kinds[0] as [ExceptionKind, unknown, Node | undefined];
    const values = kind === "cap_add" && isSeq(value) ? value.items.map(scalar) : [scalar(value)];
    for (const v of values) {
      const problem = valueProblem(kind, v);
      if (problem) {
        bad(node, problem);
        continue;
      }
      if (service && reason !== "") exceptions.push({ service, kind, value: v as string, reason, line });
    }
  }
  return { exceptions, findings };
}

/** Why a declared value cannot be what its kind allows; undefined when it can. */
function valueProblem(kind: ExceptionKind, v: string | undefined): string | undefined {
  switch (kind) {
    case "bind":
      return v?.startsWith("/") ? undefined : "bind must be an absolute host path";
    case "privileged":
      return v === "true" ? undefined : "privileged must be true";
    case "network_mode":
      return v === "host" ? undefined : "network_mode must be host";
    case "cap_add":
      return v !== undefined && /^[A-Z_]+$/.test(v)
        ? undefined
        : "cap_add must be a capability name such as NET_ADMIN, or a list of them";
    case "port": {
      const n = Number(v);
      if (v === undefined || !/^\d+$/.test(v) || n < 1 || n > 65535) return "port must be a port number such as 9000";
      const own = SWARM_PORTS.find(([p]) => p === n);
      // Nothing an application serves lives there: publishing it hijacks or exposes the cluster's own plane.
      return own ? `port ${n} is ${own[1]}'s; Docker's and control planes' ports cannot be declared` : undefined;
    }
  }
}

/** Which declared exceptions the rules consulted, so that one matching nothing is reported. */
export interface ExceptionMatcher {
  allowed(service: string, kind: ExceptionKind, value: string): boolean;
  unused(): DeclaredException[];
}

export function matchExceptions(exceptions: readonly DeclaredException[]): ExceptionMatcher {
  const used = new Set<DeclaredException>();
  return {
    allowed(service, kind, value) {
      const e = exceptions.find((x) => x.service === service && x.kind === kind && x.value === value);
      if (e) used.add(e);
      return e !== undefined;
    },
    unused: () => exceptions.filter((e) => !used.has(e)),
  };
}
