// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Published ports in both compose syntaxes, reduced to what the exposure rules need: which host
 * ports, which protocol, and whether they go through the routing mesh (`ingress`) or the node
 * (`host`). Read from Docker's reading of the file, where numbers are already numbers.
 */
import type { GoValue } from "./dialect";
import { isGoMap } from "./dialect";
import type { ValuePath } from "./origin";

export interface PublishedPort {
  /** First and last published (host-side) port; undefined when Docker picks one at random. */
  readonly published?: readonly [number, number];
  readonly target: readonly [number, number];
  readonly protocol: "tcp" | "udp" | "sctp";
  /** "ingress" (the default) goes through the routing mesh; "host" binds on the task's node only. */
  readonly mode: "ingress" | "host";
  readonly path: ValuePath;
}

export interface PortProblem {
  readonly path: ValuePath;
  readonly message: string;
}

const RANGE = /^(\d{1,5})(?:-(\d{1,5}))?$/;

function range(v: GoValue | undefined): [number, number] | undefined {
  if (typeof v === "number") return Number.isInteger(v) && v >= 1 && v <= 65535 ? [v, v] : undefined;
  if (typeof v !== "string") return undefined;
  const m = RANGE.exec(v.trim());
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  return a >= 1 && b <= 65535 && a <= b ? [a, b] : undefined;
}

function protocolOf(p: GoValue | undefined): PublishedPort["protocol"] | undefined {
  const v = (typeof p === "string" ? p : p === undefined || p === null ? "tcp" : "").toLowerCase();
  return v === "tcp" || v === "udp" || v === "sctp" ? v : undefined;
}

/** Parses a service's `ports:` at `at`; malformed entries become problems. */
export function parsePorts(
  node: GoValue | undefined,
  at: ValuePath,
  service: string,
  problems: PortProblem[],
): PublishedPort[] {
  if (node === undefined || node === null) return [];
  if (!Array.isArray(node)) {
    problems.push({ path: at, message: `service "${service}": ports must be a list` });
    return [];
  }
  return node.flatMap((item, i): PublishedPort[] => {
    const path = [...at, String(i)];
    if (typeof item === "string" || typeof item === "number") {
      // Short syntax: [HOST_IP:]PUBLISHED:TARGET[/PROTO] or TARGET[/PROTO]; always ingress mode.
      const [spec, proto] = String(item).split("/");
      const parts = spec.split(":");
      const target = range(parts[parts.length - 1]);
      const published =
        parts.length >= 2 && parts[parts.length - 2] !== "" ? range(parts[parts.length - 2]) : undefined;
      const protocol = protocolOf(proto);
      if (!target || (parts.length >= 2 && parts[parts.length - 2] !== "" && !published) || !protocol) {
        problems.push({
          path,
          message: `service "${service}": port "${String(item)}" is not [PUBLISHED:]TARGET[/tcp|udp]`,
        });
        return [];
      }
      return [{ ...(published ? { published } : {}), target, protocol, mode: "ingress", path }];
    }
    if (isGoMap(item)) {
      const target = range(item.target);
      const pubRaw = item.published;
      const published = pubRaw === undefined || pubRaw === null || pubRaw === 0 ? undefined : range(pubRaw);
      const protocol = protocolOf(item.protocol);
      const mode = item.mode === undefined || item.mode === null ? "ingress" : String(item.mode);
      if (
        !target ||
        (pubRaw !== undefined && pubRaw !== null && pubRaw !== 0 && !published) ||
        !protocol ||
        (mode !== "ingress" && mode !== "host")
      ) {
        problems.push({
          path,
          message: `service "${service}": each long-syntax port needs a numeric target, an optional numeric published, protocol tcp|udp and mode ingress|host`,
        });
        return [];
      }
      return [{ ...(published ? { published } : {}), target, protocol, mode, path }];
    }
    problems.push({
      path,
      message: `service "${service}": each port must be a string such as "80:80" or a mapping with target/published/mode`,
    });
    return [];
  });
}
