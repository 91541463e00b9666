// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Decides what a deploy must change, from the rendered stack, Docker's reading of it and what the
 * cluster already has (inspect, then act). Pure: deploy.ts carries the actions out.
 *
 * Existing networks: `docker stack deploy` reuses a network of the stack that already exists, and
 * an external one is used as it is. Such a network that is plain, or lacks the cluster's MTU, is
 * recreated when it belongs to the stack (its own `<stack>_<net>`, or an external network it
 * declares under x-hcloud-swarm external-networks) and no service uses it; otherwise the deploy is
 * refused with the commands that fix it. Encryption cannot be added to an existing network.
 */
import type { LintContext } from "../lint/lint";
import { MTU_OPTION, type RenderedStack } from "../template/render";
import { HASH_LABEL } from "../template/render";
import type { NetworkFacts, ServiceFacts } from "../../swarm/facts";
import type { ValuePath } from "../reading/origin";
import type { StackModel } from "../reading/structure";

export type DeployAction =
  | {
      readonly kind: "recreate-network";
      readonly name: string;
      readonly why: string;
      readonly external: boolean;
      readonly mtu: number;
    }
  | { readonly kind: "create-network"; readonly name: string; readonly mtu: number }
  | { readonly kind: "create-secret"; readonly name: string; readonly key: string }
  | { readonly kind: "deploy-stack"; readonly stack: string; readonly reason: string };

export interface ClusterFacts {
  readonly networks: readonly NetworkFacts[];
  readonly secrets: ReadonlySet<string>;
  /** Services currently in this stack. */
  readonly services: readonly ServiceFacts[];
  /** Every service of the swarm with its networks, to tell whether an existing network is in use. Default: `services`. */
  readonly networkUsers?: ReadonlyArray<{ readonly name: string; readonly networkIds: readonly string[] }>;
}

/** What the lint needs to know about the cluster: which networks exist with and without encryption. */
export function lintContext(facts: Pick<ClusterFacts, "networks">): LintContext {
  const encrypted = new Set<string>();
  const plain = new Set<string>();
  for (const n of facts.networks) ("encrypted" in n.options ? encrypted : plain).add(n.name);
  const ingress = facts.networks.find((n) => n.ingress);
  return {
    encryptedNetworks: encrypted,
    plainNetworks: plain,
    ingressEncrypted: ingress !== undefined && "encrypted" in ingress.options,
  };
}

/** A network the stack would create or use, by its name in the cluster. */
export interface StackNetwork {
  readonly key: string;
  readonly name: string;
  /** "own": `docker stack deploy` creates it; "guaranteed": deploy creates it; "external": someone else's. */
  readonly owner: "own" | "guaranteed" | "external";
  readonly path: ValuePath;
}

/** The overlays of Docker's reading of the stack, by real name (non-overlay externals such as host are left out). */
export function stackNetworks(model: StackModel, stack: string, guaranteed: readonly string[]): StackNetwork[] {
  return model.networks.flatMap((n): StackNetwork[] => {
    if (n.external)
      return ["host", "none", "bridge"].includes(n.name)
        ? []
        : [{ key: n.key, name: n.name, owner: guaranteed.includes(n.name) ? "guaranteed" : "external", path: n.path }];
    if (n.driver !== undefined && n.driver !== "overlay") return [];
    return [{ key: n.key, name: n.name !== n.key ? n.name : `${stack}_${n.key}`, owner: "own", path: n.path }];
  });
}

export interface ExistingNetworkPlan {
  /** Networks to remove (and, when guaranteed, create again) before deploying. */
  readonly recreate: ReadonlyArray<{
    readonly name: string;
    readonly why: string;
    readonly external: boolean;
    readonly mtu: number;
  }>;
  /** Networks that block the deploy, each with what is wrong and the fix. */
  readonly refuse: ReadonlyArray<{ readonly network: StackNetwork; readonly message: string }>;
}

/** Checks every existing network the stack would use; see the module comment. */
export function planExistingNetworks(
  networks: readonly StackNetwork[],
  facts: ClusterFacts,
  mtu: number,
  stack: string,
): ExistingNetworkPlan {
  const recreate: Array<{ name: string; why: string; external: boolean; mtu: number }> = [];
  const refuse: Array<{ network: StackNetwork; message: string }> = [];
  const services = facts.networkUsers ?? facts.services;
  for (const n of networks) {
    const have = facts.networks.find((x) => x.name === n.name && !x.ingress);
    if (!have) continue;
    const wrong = [
      ...("encrypted" in have.options ? [] : ["not encrypted"]),
      ...(have.options[MTU_OPTION] === String(mtu)
        ? []
        : [
            have.options[MTU_OPTION]
              ? `MTU ${have.options[MTU_OPTION]} instead of ${mtu}`
              : `no ${MTU_OPTION} option (needs ${mtu})`,
          ]),
    ];
    if (wrong.length === 0) continue;
    const why = `network ${n.name} exists ${wrong.join(" and ")}`;
    const users = services.filter((s) => s.networkIds.includes(have.id)).map((s) => s.name);
    const create = `docker network create --driver overlay --attachable --opt encrypted --opt ${MTU_OPTION}=${mtu} ${n.name}`;
    if (n.owner !== "external" && users.length === 0) {
      recreate.push({ name: n.name, why, external: n.owner === "guaranteed", mtu });
    } else if (n.owner === "external") {
      refuse.push({
        network: n,
        message: `${why}; it is not this stack's to replace: once nothing uses it, run docker network rm ${n.name} && ${create}${users.length ? ` (used by ${users.join(", ")})` : ""}`,
      });
    } else {
      const ownOnly = users.every((u) => u.startsWith(`${stack}_`));
      const fix = ownOnly
        ? `run docker stack rm ${stack}, then deploy again (deploy then recreates it)`
        : `remove or move the services using it (${users.join(", ")}), then deploy again`;
      refuse.push({
        network: n,
        message: `${why}, and services use it (${users.join(", ")}), so it cannot be recreated now: ${fix}`,
      });
    }
  }
  return { recreate, refuse };
}

/**
 * The actions, in order: networks to recreate, missing external networks (encrypted, with the
 * MTU), missing secrets, then `docker stack deploy` unless every service of the stack already
 * carries this render's hash (and nothing was recreated).
 */
export function planDeploy(
  rendered: RenderedStack,
  facts: ClusterFacts,
  mtu: number,
  serviceCount: number,
  networks: Pick<ExistingNetworkPlan, "recreate"> = { recreate: [] },
): DeployAction[] {
  const actions: DeployAction[] = networks.recreate.map((r) => ({ kind: "recreate-network" as const, ...r }));
  for (const name of rendered.externalNetworks) {
    if (!facts.networks.some((n) => n.name === name)) actions.push({ kind: "create-network", name, mtu });
  }
  for (const s of rendered.secrets)
    if (!facts.secrets.has(s.name)) actions.push({ kind: "create-secret", name: s.name, key: s.key });
  const current = facts.services.filter((s) => s.labels[HASH_LABEL] === rendered.hash);
  const upToDate =
    facts.services.length === serviceCount && current.length === serviceCount && networks.recreate.length === 0;
  if (!upToDate) {
    const reason =
      facts.services.length === 0
        ? "stack is not deployed"
        : networks.recreate.length > 0 && current.length === serviceCount
          ? "a network of the stack was recreated"
          : `${facts.services.length - current.length + Math.max(0, serviceCount - facts.services.length)} service(s) differ from the rendered file`;
    actions.push({ kind: "deploy-stack", stack: rendered.stack, reason });
  }
  return actions;
}

export function describeAction(a: DeployAction): string {
  switch (a.kind) {
    case "recreate-network":
      return `recreate network ${a.name} (${a.why}; nothing uses it)`;
    case "create-network":
      return `create network ${a.name} (overlay, encrypted, attachable, MTU ${a.mtu})`;
    case "create-secret":
      return `create secret ${a.name} (generated)`;
    case "deploy-stack":
      return `docker stack deploy ${a.stack} (${a.reason})`;
  }
}
