/** `local status`: what runs, what answers, and what this kernel lets the bed prove. */
import { detectKernelFeatures, KernelFeature } from "./kernel";
import { BedContext, dockerdAnswers, nodeProcesses, sshdAnswers } from "./node";
import { bedNames } from "./plan";
import { dockerInfo, dockerSocketOf } from "./probe";
import { hostHierarchies } from "./cgroups";
import { canonicalDir } from "../common/bed-dir";
import { readState } from "./state";

export interface NodeStatus {
  readonly name: string;
  readonly role: string;
  readonly ip: string;
  readonly sshd: boolean;
  readonly dockerd: boolean;
  /** Engine version and hostname reported by dockerd, when it answers. */
  readonly engine?: string;
  readonly hostname?: string;
}

export interface BedStatus {
  readonly dir: string;
  readonly bridge?: string;
  readonly subnet?: string;
  readonly nodes: readonly NodeStatus[];
  readonly kernel: readonly KernelFeature[];
}

export async function bedStatus(dirArg: string): Promise<BedStatus> {
  const dir = canonicalDir(dirArg);
  const state = readState(dir);
  const kernel = detectKernelFeatures();
  if (!state) return { dir, nodes: [], kernel: await kernel };
  const names = bedNames(state.k, state.dirId);
  const ctx: BedContext = { dir, names, hierarchies: hostHierarchies() };
  const nodes = await Promise.all(
    state.nodes.map(async (n): Promise<NodeStatus> => {
      const [sshd, dockerd] = await Promise.all([sshdAnswers(n), dockerdAnswers(ctx, n)]);
      const base = { name: n.name, role: n.role, ip: n.ip, sshd, dockerd };
      if (!dockerd) return base;
      const info = await dockerInfo(dockerSocketOf(nodeProcesses(ctx, n).dockerd ?? 0)).catch(() => undefined);
      return info ? { ...base, engine: info.serverVersion, hostname: info.name } : base;
    }),
  );
  return { dir, bridge: names.bridge, subnet: names.subnet, nodes, kernel: await kernel };
}

export function formatStatus(s: BedStatus): string {
  const out: string[] = [];
  if (!s.bridge) out.push(`no test bed in ${s.dir} (start one with \`hcloud-swarm local up\`)`);
  else {
    out.push(`test bed ${s.dir}: bridge ${s.bridge}, nodes on ${s.subnet}`);
    const rows = [
      ["NODE", "ROLE", "ADDRESS", "SSHD", "DOCKERD", "HOSTNAME", "ENGINE"],
      ...s.nodes.map((n) => [
        n.name,
        n.role,
        n.ip,
        n.sshd ? "up" : "DOWN",
        n.dockerd ? "up" : "DOWN",
        n.hostname ?? "-",
        n.engine ?? "-",
      ]),
    ];
    const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows)
      out.push(
        r
          .map((c, i) => c.padEnd(w[i]))
          .join("  ")
          .trimEnd(),
      );
  }
  out.push("", "kernel features:");
  for (const f of s.kernel)
    out.push(
      `  ${f.available ? "ok     " : "MISSING"} ${f.name}${f.available ? "" : ` (${f.detail}): ${f.consequence}`}`,
    );
  const missing = s.kernel.filter((f) => !f.available);
  out.push(
    "",
    missing.length === 0
      ? "this machine can prove everything, including encryption on the wire."
      : `this machine cannot prove: ${missing.map((f) => f.name).join(", ")}.`,
  );
  return out.join("\n") + "\n";
}
