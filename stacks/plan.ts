/**
 * Decides what a deploy must change, from the rendered stack and what the cluster already has
 * (inspect, then act). Pure: deploy.ts carries the actions out.
 */
import type { LintContext } from "./lint";
import { MTU_OPTION, type RenderedStack } from "./render";
import { HASH_LABEL } from "./render";
import type { NetworkFacts, ServiceFacts } from "./cluster";

export type DeployAction =
  | { readonly kind: "create-network"; readonly name: string; readonly mtu: number }
  | { readonly kind: "create-secret"; readonly name: string; readonly key: string }
  | { readonly kind: "deploy-stack"; readonly stack: string; readonly reason: string };

export interface ClusterFacts {
  readonly networks: readonly NetworkFacts[];
  readonly secrets: ReadonlySet<string>;
  /** Services currently in this stack. */
  readonly services: readonly ServiceFacts[];
}

/** What the lint needs to know about the cluster: which networks exist with and without encryption. */
export function lintContext(facts: Pick<ClusterFacts, "networks">): LintContext {
  const encrypted = new Set<string>();
  const plain = new Set<string>();
  for (const n of facts.networks) ("encrypted" in n.options ? encrypted : plain).add(n.name);
  const ingress = facts.networks.find((n) => n.ingress);
  return { encryptedNetworks: encrypted, plainNetworks: plain, ingressEncrypted: ingress !== undefined && "encrypted" in ingress.options };
}

/** Existing networks a deploy would use without the MTU this cluster needs: worth a warning, not a refusal. */
export function mtuWarnings(rendered: RenderedStack, facts: ClusterFacts, mtu: number): string[] {
  return rendered.externalNetworks.flatMap((name) => {
    const n = facts.networks.find((x) => x.name === name);
    const have = n?.options[MTU_OPTION];
    return n && have !== String(mtu) ? [`network ${name} exists with ${have ? `MTU ${have}` : "no MTU option"} instead of ${mtu}; large packets may stall (recreate it when no service uses it)`] : [];
  });
}

/**
 * The actions, in order: missing external networks (encrypted, with the MTU), missing secrets,
 * then `docker stack deploy` unless every service of the stack already carries this render's hash.
 */
export function planDeploy(rendered: RenderedStack, facts: ClusterFacts, mtu: number, serviceCount: number): DeployAction[] {
  const actions: DeployAction[] = [];
  const existing = new Set(facts.networks.map((n) => n.name));
  for (const name of rendered.externalNetworks) if (!existing.has(name)) actions.push({ kind: "create-network", name, mtu });
  for (const s of rendered.secrets) if (!facts.secrets.has(s.name)) actions.push({ kind: "create-secret", name: s.name, key: s.key });
  const current = facts.services.filter((s) => s.labels[HASH_LABEL] === rendered.hash);
  const upToDate = facts.services.length === serviceCount && current.length === serviceCount;
  if (!upToDate) {
    const reason = facts.services.length === 0 ? "stack is not deployed" : `${facts.services.length - current.length + Math.max(0, serviceCount - facts.services.length)} service(s) differ from the rendered file`;
    actions.push({ kind: "deploy-stack", stack: rendered.stack, reason });
  }
  return actions;
}

export function describeAction(a: DeployAction): string {
  switch (a.kind) {
    case "create-network":
      return `create network ${a.name} (overlay, encrypted, attachable, MTU ${a.mtu})`;
    case "create-secret":
      return `create secret ${a.name} (generated)`;
    case "deploy-stack":
      return `docker stack deploy ${a.stack} (${a.reason})`;
  }
}
