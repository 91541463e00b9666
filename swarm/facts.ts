// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The swarm read model: what deploy, rm, verify, the demo, the rehearsal and the benches need to
 * know about a running swarm, read over one SSH session to a manager: networks, secrets, services,
 * nodes (./nodes, the one parser of `docker node inspect`, shared with bootstrap) and tasks (why a
 * service does not run). Reading only: every change goes through bootstrap or stacks/. The session
 * comes from ./manager-session.
 */
import { shellQuote } from "../transport/shell";
import type { SshSession } from "../transport/ssh";
export { readNodes, type NodeFacts } from "./nodes";

export interface NetworkFacts {
  readonly name: string;
  readonly id: string;
  readonly driver: string;
  readonly ingress: boolean;
  readonly options: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ServiceFacts {
  readonly id: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Placement constraints, as given to the service. */
  readonly constraints: readonly string[];
  /** Environment variables of the task template. */
  readonly env: readonly string[];
  /** Network IDs the service's tasks join. */
  readonly networkIds: readonly string[];
  /** Docker secret names mounted into the service. */
  readonly secrets: readonly string[];
  readonly image: string;
  readonly endpointMode: string;
  /** Spec version: unchanged across a redeploy proves nothing was updated. */
  readonly version: number;
  /** When the manager last changed the spec (epoch ms): tasks created since run this version. */
  readonly updatedAt: number;
}

/** One task of a service, from `docker inspect --type task` (the API's own fields, not a table). */
export interface TaskFacts {
  readonly id: string;
  readonly serviceId: string;
  /** Node ID; empty while the task waits for a node. */
  readonly nodeId: string;
  /** 0 for a global service's tasks. */
  readonly slot: number;
  /** "running", "shutdown", … */
  readonly desired: string;
  /** "new", "pending", "assigned", "preparing", "running", "rejected", "failed", … */
  readonly state: string;
  /** Docker's error for this task, "" when none. */
  readonly err: string;
  /** Epoch ms of the task's latest state change. */
  readonly at: number;
  /** Epoch ms of the task's creation. */
  readonly created: number;
  readonly image: string;
}

/** Label docker stack deploy puts on everything it creates. */
export const STACK_LABEL = "com.docker.stack.namespace";

/** JSON documents, one per non-empty line (docker's `--format '{{json .}}'`). */
function jsonLines<T>(text: string): T[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as T);
}

/**
 * A shell script that prints `format` (a Go template) for every overlay network the node knows. A
 * network removed between ls and inspect (a stack rm finishing) fails the inspect: it lists again, once.
 */
export function inspectEveryOverlay(format: string): string {
  const list = `ids=$(docker network ls -q --filter driver=overlay); [ -z "$ids" ] || docker network inspect --format ${shellQuote(format)} $ids`;
  return `out=$(${list} 2>/dev/null) && printf '%s\\n' "$out" || { ${list}; }`;
}

/** Every overlay network in the swarm, ingress included. */
export async function overlayNetworks(s: SshSession): Promise<NetworkFacts[]> {
  const r = await s.run(inspectEveryOverlay("{{json .}}"), {
    display: "docker network inspect (every overlay network)",
  });
  type Raw = {
    Name: string;
    Id: string;
    Driver: string;
    Ingress: boolean;
    Options: Record<string, string> | null;
    Labels: Record<string, string> | null;
  };
  return jsonLines<Raw>(r.stdout).map((n) => ({
    name: n.Name,
    id: n.Id,
    driver: n.Driver,
    ingress: n.Ingress,
    options: n.Options ?? {},
    labels: n.Labels ?? {},
  }));
}

export async function secretNames(s: SshSession): Promise<Set<string>> {
  const r = await s.run("docker secret ls --format '{{.Name}}'");
  return new Set(r.stdout.split("\n").filter(Boolean));
}

/** Services of one stack (or of every stack when `stack` is undefined). */
export async function stackServices(s: SshSession, stack?: string): Promise<ServiceFacts[]> {
  return servicesBy(s, stack === undefined ? `label=${STACK_LABEL}` : `label=${STACK_LABEL}=${stack}`);
}

/** One service by its exact name (in a stack or not); undefined when there is none. */
export async function namedService(s: SshSession, name: string): Promise<ServiceFacts | undefined> {
  // docker's name filter matches prefixes: keep the exact name only.
  return (await servicesBy(s, `name=${name}`)).find((x) => x.name === name);
}

async function servicesBy(s: SshSession, filter: string): Promise<ServiceFacts[]> {
  const r = await s.run(
    `ids=$(docker service ls -q --filter ${shellQuote(filter)}); [ -z "$ids" ] || docker service inspect --format '{{json .}}' $ids`,
  );
  type Raw = {
    ID: string;
    UpdatedAt?: string;
    Version: { Index: number };
    Spec: {
      Name: string;
      Labels: Record<string, string> | null;
      EndpointSpec?: { Mode?: string };
      TaskTemplate: {
        ContainerSpec: { Image: string; Env?: string[]; Secrets?: Array<{ SecretName: string }> };
        Placement?: { Constraints?: string[] };
        Networks?: Array<{ Target: string }>;
      };
    };
  };
  return jsonLines<Raw>(r.stdout).map((x) => ({
    id: x.ID,
    name: x.Spec.Name,
    labels: x.Spec.Labels ?? {},
    constraints: x.Spec.TaskTemplate.Placement?.Constraints ?? [],
    env: x.Spec.TaskTemplate.ContainerSpec.Env ?? [],
    networkIds: (x.Spec.TaskTemplate.Networks ?? []).map((n) => n.Target),
    secrets: (x.Spec.TaskTemplate.ContainerSpec.Secrets ?? []).map((n) => n.SecretName),
    image: x.Spec.TaskTemplate.ContainerSpec.Image,
    endpointMode: x.Spec.EndpointSpec?.Mode ?? "vip",
    version: x.Version.Index,
    updatedAt: Date.parse(x.UpdatedAt ?? "") || 0,
  }));
}

/** Every service of the swarm, in a stack or not, with the IDs of the networks its tasks join. */
export async function networkUsers(s: SshSession): Promise<Array<{ name: string; networkIds: string[] }>> {
  const r = await s.run(
    `ids=$(docker service ls -q); [ -z "$ids" ] || docker service inspect --format '{{.Spec.Name}}{{range .Spec.TaskTemplate.Networks}} {{.Target}}{{end}}' $ids`,
  );
  return r.stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [name, ...networkIds] = l.trim().split(/\s+/);
      return { name, networkIds };
    });
}

/** Node ID → number of tasks that should be running there (every stack, and plain services). */
export async function runningTasksPerNode(s: SshSession): Promise<Map<string, number>> {
  // `docker node ps` with several nodes lists some tasks more than once: count task IDs once.
  const r = await s.run(
    "ids=$(docker node ps -q --filter desired-state=running $(docker node ls -q) | sort -u); [ -z \"$ids\" ] || docker inspect --type task --format '{{.NodeID}}' $ids",
  );
  const counts = new Map<string, number>();
  for (const id of r.stdout.split("\n").filter(Boolean)) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

const TASK_FORMAT =
  '{"id":{{json .ID}},"serviceId":{{json .ServiceID}},"nodeId":{{json .NodeID}},"slot":{{json .Slot}},"desired":{{json .DesiredState}},' +
  '"state":{{json .Status.State}},"err":{{json .Status.Err}},"at":{{json .Status.Timestamp}},"created":{{json .CreatedAt}},"image":{{json .Spec.ContainerSpec.Image}}}';

/** Every task of a stack that Docker still keeps (current and recent history). */
export async function stackTasks(s: SshSession, stack: string): Promise<TaskFacts[]> {
  return tasksOf(s, `docker stack ps -q --no-trunc ${shellQuote(stack)}`);
}

/** Every task of one service that Docker still keeps (current and recent history). */
export async function serviceTasks(s: SshSession, service: string): Promise<TaskFacts[]> {
  return tasksOf(s, `docker service ps -q --no-trunc ${shellQuote(service)}`);
}

async function tasksOf(s: SshSession, list: string): Promise<TaskFacts[]> {
  const r = await s.run(
    `ids=$(${list} 2>/dev/null); [ -z "$ids" ] || docker inspect --type task --format ${shellQuote(TASK_FORMAT)} $ids`,
    { allowFailure: true },
  );
  type Raw = Omit<TaskFacts, "at" | "created" | "err" | "nodeId"> & {
    at: string;
    created: string;
    err: string | null;
    nodeId: string | null;
  };
  return jsonLines<Raw>(r.stdout).map((t) => ({
    ...t,
    nodeId: t.nodeId ?? "",
    err: t.err ?? "",
    at: Date.parse(t.at) || 0,
    created: Date.parse(t.created) || 0,
  }));
}

/** Replica counts per service of a stack, as `docker stack services` shows them ("1/1"). */
export async function replicas(
  s: SshSession,
  stack: string,
): Promise<Array<{ name: string; running: number; desired: number }>> {
  const r = await s.run(`docker stack services --format '{{.Name}} {{.Replicas}}' ${shellQuote(stack)}`, {
    allowFailure: true,
  });
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [name, rep = ""] = line.split(" ");
      const m = /^(\d+)\/(\d+)/.exec(rep);
      return { name, running: m ? Number(m[1]) : 0, desired: m ? Number(m[2]) : 1 };
    });
}
