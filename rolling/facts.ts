/**
 * What a roll reads from the swarm, over a manager session: the services with their replica counts
 * and where their tasks run, turned into inventory names. The rest of the facts (nodes, labels)
 * come from swarm/nodes.ts, the one parser of `docker node inspect`.
 */
import { STACK_LABEL } from "../swarm/facts";
import type { SshSession } from "../transport/ssh";
import { onLeader } from "../swarm/leader";
import type { ServiceView } from "./plan";

export interface ServiceCount {
  readonly name: string;
  readonly running: number;
  readonly desired: number;
}

/** `docker service ls` replica counts ("2/2"; a global service's desired count is its eligible nodes). */
export async function serviceCounts(m: SshSession): Promise<ServiceCount[]> {
  const r = await onLeader(m, "docker service ls --format '{{.Name}} {{.Replicas}}'");
  return r.stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [name, rep = ""] = l.trim().split(" ");
      const c = /^(\d+)\/(\d+)/.exec(rep);
      return { name, running: c ? Number(c[1]) : 0, desired: c ? Number(c[2]) : 0 };
    });
}

/** Every service, its stack, its replica count (undefined: global) and the inventory nodes its running tasks are on. */
export async function serviceViews(m: SshSession, nameOf: (hostname: string) => string): Promise<ServiceView[]> {
  const script = [
    'ids=$(docker service ls -q); [ -n "$ids" ] || exit 0',
    `docker service inspect --format 'SVC {{.Spec.Name}} {{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{else}}global{{end}} {{index .Spec.Labels "${STACK_LABEL}"}}' $ids`,
    "docker service ps --filter desired-state=running --format 'TASK {{.Name}} {{.Node}} {{.CurrentState}}' $ids",
  ].join("\n");
  const out = (await onLeader(m, script)).stdout.split("\n");
  const running = out
    .filter((l) => l.startsWith("TASK "))
    .map((l) => l.split(" "))
    .filter((p) => p[3] === "Running");
  return out
    .filter((l) => l.startsWith("SVC "))
    .map((l) => {
      const [, name, replicas, stack] = l.split(" ");
      // Task names are "<service>.<slot>" (replicated) or "<service>.<node id>" (global).
      const on = running.filter((p) => p[1].slice(0, p[1].lastIndexOf(".")) === name).map((p) => nameOf(p[2]));
      return {
        name,
        ...(stack ? { stack } : {}),
        ...(replicas === "global" ? {} : { replicas: Number(replicas) }),
        runningOn: [...new Set(on)],
      };
    });
}
