/**
 * Published ports in both compose syntaxes, reduced to what the exposure rules need: which host
 * ports, which protocol, and whether they go through the routing mesh (`ingress`) or the node (`host`).
 */
import { isMap, isScalar, isSeq, type Node } from "yaml";
import { type Finding, lineOf, type StackSource } from "./source";

export interface PublishedPort {
  /** First and last published (host-side) port; undefined when Docker picks one at random. */
  readonly published?: readonly [number, number];
  readonly target: readonly [number, number];
  readonly protocol: "tcp" | "udp" | "sctp";
  /** "ingress" (the default) goes through the routing mesh; "host" binds on the task's node only. */
  readonly mode: "ingress" | "host";
  readonly line: number;
}

const RANGE = /^(\d{1,5})(?:-(\d{1,5}))?$/;

function range(text: string): [number, number] | undefined {
  const m = RANGE.exec(text.trim());
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  return a >= 1 && b <= 65535 && a <= b ? [a, b] : undefined;
}

function protocolOf(p: string | undefined): PublishedPort["protocol"] | undefined {
  const v = (p ?? "tcp").toLowerCase();
  return v === "tcp" || v === "udp" || v === "sctp" ? v : undefined;
}

/** Parses a service's `ports:`; malformed entries become "compose-structure" findings. */
export function parsePorts(src: StackSource, node: unknown, service: string, findings: Finding[]): PublishedPort[] {
  if (node === undefined) return [];
  const bad = (n: unknown, message: string): void => {
    findings.push({ file: src.file, line: lineOf(src, n as Node), stack: src.stack, rule: "compose-structure", service, message: `service "${service}": ${message}` });
  };
  if (!isSeq(node)) {
    bad(node, "ports must be a list");
    return [];
  }
  return node.items.flatMap((item): PublishedPort[] => {
    const line = lineOf(src, item as Node);
    if (isScalar(item)) {
      // Short syntax: [HOST_IP:]PUBLISHED:TARGET[/PROTO] or TARGET[/PROTO]; always ingress mode.
      const [spec, proto] = String(item.value).split("/");
      const parts = spec.split(":");
      const target = range(parts[parts.length - 1]);
      const published = parts.length >= 2 ? range(parts[parts.length - 2]) : undefined;
      const protocol = protocolOf(proto);
      if (!target || (parts.length >= 2 && !published) || !protocol) {
        bad(item, `port "${String(item.value)}" is not [PUBLISHED:]TARGET[/tcp|udp]`);
        return [];
      }
      return [{ ...(published ? { published } : {}), target, protocol, mode: "ingress", line }];
    }
    if (isMap(item)) {
      const target = range(String(item.get("target") ?? ""));
      const pubRaw = item.get("published");
      const published = pubRaw === undefined || pubRaw === null ? undefined : range(String(pubRaw));
      const protocol = protocolOf(item.get("protocol") as string | undefined);
      const mode = String(item.get("mode") ?? "ingress");
      if (!target || (pubRaw !== undefined && pubRaw !== null && !published) || !protocol || (mode !== "ingress" && mode !== "host")) {
        bad(item, "each long-syntax port needs a numeric target, an optional numeric published, protocol tcp|udp and mode ingress|host");
        return [];
      }
      return [{ ...(published ? { published } : {}), target, protocol, mode, line }];
    }
    bad(item, "each port must be a string such as \"80:80\" or a mapping with target/published/mode");
    return [];
  });
}
