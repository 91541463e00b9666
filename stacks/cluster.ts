/**
 * What deploy, rm and verify need to know about a running swarm, read over one SSH session to a
 * manager. Reading only: every change goes through deploy.ts or remove.ts.
 */
import * as fs from "fs";
import { type Inventory, type InventoryNode, managers } from "../inventory/inventory";
import { shellQuote } from "../transport/shell";
import { connect, type SshSession } from "../transport/ssh";

export interface NetworkFacts {
  readonly name: string;
  readonly id: string;
  readonly driver: string;
  readonly ingress: boolean;
  readonly options: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ServiceFacts {
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
}

/** Label docker stack deploy puts on everything it creates. */
export const STACK_LABEL = "com.docker.stack.namespace";

/** Connects to the first manager that answers (managers in inventory order), with its pinned host key. */
export async function managerSession(inv: Inventory, privateKeyFor: (node: InventoryNode) => string): Promise<SshSession> {
  const failures: string[] = [];
  for (const node of managers(inv)) {
    try {
      return await connect(node, privateKeyFor(node));
    } catch (err) {
      failures.push(`${node.name}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no manager reachable over SSH:\n  ${failures.join("\n  ")}`);
}

/** The private key for a node: --identity, else the inventory's privateKeyPath. */
export function keyFileReader(identity?: string): (node: InventoryNode) => string {
  return (node) => {
    const keyFile = identity ?? node.privateKeyPath;
    if (!keyFile) throw new Error(`no private key for ${node.name}: give --identity KEY or privateKeyPath in the inventory`);
    return fs.readFileSync(keyFile, "utf8");
  };
}

export function connectManager(inv: Inventory, identity?: string): Promise<SshSession> {
  return managerSession(inv, keyFileReader(identity));
}

/** JSON documents, one per non-empty line (docker's `--format '{{json .}}'`). */
function jsonLines<T>(text: string): T[] {
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as T);
}

/** Every overlay network in the swarm, ingress included. */
export async function overlayNetworks(s: SshSession): Promise<NetworkFacts[]> {
  // A network removed between ls and inspect (a stack rm finishing) fails the inspect: list again, once.
  const list = "ids=$(docker network ls -q --filter driver=overlay); [ -z \"$ids\" ] || docker network inspect --format '{{json .}}' $ids";
  const r = await s.run(`out=$(${list} 2>/dev/null) && printf '%s\\n' "$out" || { ${list}; }`);
  type Raw = { Name: string; Id: string; Driver: string; Ingress: boolean; Options: Record<string, string> | null; Labels: Record<string, string> | null };
  return jsonLines<Raw>(r.stdout).map((n) => ({ name: n.Name, id: n.Id, driver: n.Driver, ingress: n.Ingress, options: n.Options ?? {}, labels: n.Labels ?? {} }));
}

export async function secretNames(s: SshSession): Promise<Set<string>> {
  const r = await s.run("docker secret ls --format '{{.Name}}'");
  return new Set(r.stdout.split("\n").filter(Boolean));
}

/** Services of one stack (or of every stack when `stack` is undefined). */
export async function stackServices(s: SshSession, stack?: string): Promise<ServiceFacts[]> {
  const filter = stack === undefined ? `label=${STACK_LABEL}` : `label=${STACK_LABEL}=${stack}`;
  const r = await s.run(`ids=$(docker service ls -q --filter ${shellQuote(filter)}); [ -z "$ids" ] || docker service inspect --format '{{json .}}' $ids`);
  type Raw = {
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
    name: x.Spec.Name,
    labels: x.Spec.Labels ?? {},
    constraints: x.Spec.TaskTemplate.Placement?.Constraints ?? [],
    env: x.Spec.TaskTemplate.ContainerSpec.Env ?? [],
    networkIds: (x.Spec.TaskTemplate.Networks ?? []).map((n) => n.Target),
    secrets: (x.Spec.TaskTemplate.ContainerSpec.Secrets ?? []).map((n) => n.SecretName),
    image: x.Spec.TaskTemplate.ContainerSpec.Image,
    endpointMode: x.Spec.EndpointSpec?.Mode ?? "vip",
    version: x.Version.Index,
  }));
}

/** Every service of the swarm, in a stack or not, with the IDs of the networks its tasks join. */
export async function networkUsers(s: SshSession): Promise<Array<{ name: string; networkIds: string[] }>> {
  const r = await s.run(`ids=$(docker service ls -q); [ -z "$ids" ] || docker service inspect --format '{{.Spec.Name}}{{range .Spec.TaskTemplate.Networks}} {{.Target}}{{end}}' $ids`);
  return r.stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [name, ...networkIds] = l.trim().split(/\s+/);
      return { name, networkIds };
    });
}

/** Replica counts per service of a stack, as `docker stack services` shows them ("1/1"). */
export async function replicas(s: SshSession, stack: string): Promise<Array<{ name: string; running: number; desired: number }>> {
  const r = await s.run(`docker stack services --format '{{.Name}} {{.Replicas}}' ${shellQuote(stack)}`, { allowFailure: true });
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [name, rep = ""] = line.split(" ");
      const m = /^(\d+)\/(\d+)/.exec(rep);
      return { name, running: m ? Number(m[1]) : 0, desired: m ? Number(m[2]) : 1 };
    });
}

/** Task errors of a service, newest first: why it did not converge (`docker service ps --no-trunc`). */
export async function taskProblems(s: SshSession, service: string, limit = 3): Promise<string[]> {
  const r = await s.run(`docker service ps --no-trunc --format '{{.Name}}\t{{.Node}}\t{{.CurrentState}}\t{{.Error}}' ${shellQuote(service)}`, { allowFailure: true });
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split("\t"))
    .filter(([, , state, error]) => (error ?? "") !== "" || !/^Running/.test(state ?? ""))
    .slice(0, limit)
    .map(([name, node, state, error]) => `${name} on ${node || "(no node)"}: ${state}${error ? `: ${error}` : ""}`);
}
