/**
 * Stacks in `pulumi up`: the `hcloud-swarm:stacks` config list, deployed after the swarm is
 * formed through the same code as `hcloud-swarm stack deploy`. Kept apart from the cluster
 * component: stacks are optional and cluster-wide, and nothing else depends on them.
 */
import * as path from "path";
import { packageRoot } from "../common/paths";
import type { StackEntry } from "../stacks/pulumi/provider";
import { StacksDeployment } from "../stacks/pulumi/resource";
import { parseStacksConfig } from "../stacks/pulumi/stack-config";
import { renderStack, type RenderedStack } from "../stacks/template/render";
import { stackText } from "../stacks/reading/stack-text";
import { type SecretValueSpec, StackSecrets } from "../stacks/pulumi/secret-values";
import type { SwarmCluster } from "./cluster";

/** Bare config key (`hcloud-swarm:stacks`); infra/config.ts does not know it, so index.ts takes it out first. */
export const STACKS_KEY = "stacks";

/** Pulumi hands config values over as strings; tests may pass the parsed list. */
function fromText(v: unknown): unknown {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    // A bare template name ("traefik") is a one-element list.
    return [v];
  }
}

/**
 * Validates the list, every problem at once; called before the cluster exists, so a bad list
 * creates nothing. The MTU used here only checks that the templates render; deploy renders
 * again with the inventory's own MTU.
 */
export function stacksFromConfig(raw: unknown): StackEntry[] {
  const root = packageRoot(__dirname);
  // Relative paths: state must not change because the project moved to another checkout.
  return parseStacksConfig(fromText(raw), 1500).map((r) => ({
    name: r.name,
    file: path.relative(root, r.file),
    text: r.text,
    vars: r.vars,
    ...(r.pins.length ? { pins: r.pins } : {}),
  }));
}

// One rendering per configured stack for the whole program run: the secrets and the pin labels are
// read from the same one (the entries are the objects stacksFromConfig made, so identity is stable).
const renderings = new WeakMap<StackEntry, RenderedStack>();
function rendered(st: StackEntry): RenderedStack {
  let r = renderings.get(st);
  if (!r) {
    r = renderStack(stackText(st.text, st.file), { stack: st.name, vars: st.vars });
    renderings.set(st, r);
  }
  return r;
}

/** Every secret the stacks want generated, by Docker name (`<stack>_<key>`). */
export function secretSpecs(stacks: readonly StackEntry[]): SecretValueSpec[] {
  return stacks.flatMap((st) =>
    rendered(st).secrets.map((x) => ({
      name: x.name,
      generate: x.generate,
      user: x.user,
    })),
  );
}

/**
 * The stacks resource, after everything in the cluster (bootstrap included), with its secret
 * values made and kept in state first; none for an empty list.
 */
export function configuredStacks(cluster: SwarmCluster, stacks: readonly StackEntry[]): StacksDeployment | undefined {
  if (stacks.length === 0) return undefined;
  const values = new StackSecrets("swarm-stack-secrets", { specs: secretSpecs(stacks) });
  // A component as dependency waits for all its children: servers, firewalls and swarm membership.
  return new StacksDeployment(
    "swarm-stacks",
    { inventory: cluster.inventory, privateKey: cluster.sshPrivateKey, stacks, secretValues: values.values },
    { dependsOn: [cluster, values] },
  );
}

/** Every label the configured stacks pin their data to (`pins:` in their templates). */
export function pinLabelsOf(stacks: readonly StackEntry[]): string[] {
  return [...new Set(stacks.flatMap((st) => rendered(st).meta.pins.map((p) => p.label)))].sort();
}
