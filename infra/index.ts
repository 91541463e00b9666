/**
 * The Pulumi program (Pulumi.yaml `main`): read and validate the `hcloud-swarm:` config, create
 * the cluster, export what bootstrap and people need.
 */
import * as pulumi from "@pulumi/pulumi";
import { validateAll } from "../common/problems";
import { KEYS, NAMESPACE, OBJECT_KEYS, validateConfig } from "./config";
import { SwarmCluster } from "./cluster";
import { knownHosts } from "../inventory/inventory";
import { dockerContextCommand } from "./outputs";
import { configuredStacks, STACKS_KEY, stacksFromConfig } from "./stacks";

/** Every `hcloud-swarm:*` value, keyed by bare name, so unknown keys (typos) are reported too. */
function rawConfig(): Record<string, string> {
  const prefix = `${NAMESPACE}:`;
  return Object.fromEntries(
    Object.entries(pulumi.runtime.allConfig())
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [k.slice(prefix.length), v]),
  );
}

// Validated here, before any resource exists; a bad config throws a ValidationError listing every problem.
// `stacks` belongs to infra/stacks.ts; the cluster's validator sees every other key.
const { [STACKS_KEY]: stacksConfig, ...clusterConfig } = rawConfig();
const [config, stackList] = validateAll(
  () => validateConfig(clusterConfig, pulumi.getStack()),
  () => stacksFromConfig(stacksConfig),
);

// The SSH-to-the-world warning comes from SwarmCluster itself (infra/cluster.ts).

// The Pulumi name is fixed so that renaming the cluster (clusterName) renames servers in place.
// Object keys go over as the user wrote them: the component validates its arguments again. With
// dockerOnImage the (default) dockerVersion is unused, and passing it would read as set by the user.
const unused = (k: string) => k === "dockerVersion" && config.dockerOnImage;
const args = {
  ...Object.fromEntries(Object.entries(config).filter(([k]) => (KEYS as readonly string[]).includes(k) && !unused(k))),
  ...Object.fromEntries(OBJECT_KEYS.filter((k) => clusterConfig[k] !== undefined).map((k) => [k, clusterConfig[k]])),
};
const cluster = new SwarmCluster("swarm", args);
const stacks = configuredStacks(cluster, stackList);

/** Nodes, addresses, pinned host keys and swarm settings: `pulumi stack output inventory > inventory.json`. */
export const inventory = cluster.inventory;
/** The managers' public and private addresses. */
export const managers = cluster.inventory.apply((inv) =>
  inv.nodes
    .filter((n) => n.role === "manager")
    .map((n) => ({ name: n.name, publicAddress: n.publicAddress, privateAddress: n.privateAddress })),
);
/** The deploy key (root on every node). Secret: `pulumi stack output --show-secrets sshPrivateKey`. */
export const sshPrivateKey = cluster.sshPrivateKey;
export const sshPublicKey = cluster.sshPublicKey;
/** known_hosts lines pinning every node's host key. */
export const knownHostsFile = cluster.inventory.apply((inv) => knownHosts(inv.nodes));
/** Ready to paste: a docker context that talks to the first manager over SSH. */
export const dockerContext = dockerContextCommand(config.clusterName, cluster.nodes[0].server.ipv4Address);
/** The swarm's autolock unlock key ("" with autolock off). Secret: `pulumi stack output --show-secrets unlockKey`. */
export const unlockKey = cluster.unlockKey;
/** The backup key, a key file's text. Secret: `pulumi stack output --show-secrets backupKey > .hcloud-swarm/backup-keys/<cluster>.key`. */
export const backupKey = cluster.backupKey;
/** Generated stack passwords by Docker secret name (only with hcloud-swarm:stacks). Secret. */
export const stackSecrets = stacks ? pulumi.secret(stacks.generatedSecrets) : undefined;
