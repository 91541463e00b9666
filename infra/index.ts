/**
 * The Pulumi program (Pulumi.yaml `main`): read and validate the `hcloud-swarm:` config, create
 * the cluster, export what bootstrap and people need.
 */
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import { validateAll } from "../common/problems";
import { KEYS, NAMESPACE, OBJECT_KEYS, validateConfig } from "./config";
import { SwarmCluster } from "./cluster";
import { knownHosts } from "../inventory/inventory";
import { dockerContextCommand } from "./outputs";
import { configuredStacks, pinLabelsOf, STACKS_KEY, stacksFromConfig } from "./stacks";
import { MANAGED_BY } from "./plan";

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
const hcloudToken = new pulumi.Config("hcloud").getSecret("token");

/**
 * The program's body, which the language host awaits. Day two: the plan asks Hetzner where the
 * cluster's servers are and what they are now before it decides anything (infra/day2.ts), at
 * preview too, so the preview tells the truth; a refusal fails the program once, before any
 * resource is registered.
 */
export = async (): Promise<Record<string, unknown>> => {
  const { servers } = await hcloud.getServers({
    withSelector: `cluster=${config.clusterName},managed-by=${MANAGED_BY}`,
  });
  const cluster = new SwarmCluster("swarm", {
    ...args,
    existingServers: servers,
    pinLabels: pinLabelsOf(stackList),
    ...(hcloudToken ? { hcloudToken } : {}),
  });
  const stacks = configuredStacks(cluster, stackList);
  const inventory = cluster.inventory;
  return {
    /** Nodes, addresses, pinned host keys and swarm settings: `pulumi stack output inventory > inventory.json`. */
    inventory,
    /** The managers' public and private addresses. */
    managers: inventory.apply((inv) =>
      inv.nodes
        .filter((n) => n.role === "manager")
        .map((n) => ({ name: n.name, publicAddress: n.publicAddress, privateAddress: n.privateAddress })),
    ),
    /** The deploy key (root on every node). Secret: `pulumi stack output --show-secrets sshPrivateKey`. */
    sshPrivateKey: cluster.sshPrivateKey,
    sshPublicKey: cluster.sshPublicKey,
    /** known_hosts lines pinning every node's host key. */
    knownHostsFile: inventory.apply((inv) => knownHosts(inv.nodes)),
    /** Ready to paste: a docker context that talks to the first manager over SSH. */
    dockerContext: dockerContextCommand(config.clusterName, cluster.nodes[0].server.ipv4Address),
    /** The swarm's autolock unlock key ("" with autolock off). Secret: `pulumi stack output --show-secrets unlockKey`. */
    unlockKey: cluster.unlockKey,
    /** The backup key, a key file's text. Secret: `pulumi stack output --show-secrets backupKey > .hcloud-swarm/backup-keys/<cluster>.key`. */
    backupKey: cluster.backupKey,
    /** Generated stack passwords by Docker secret name (only with hcloud-swarm:stacks). Secret. */
    ...(stacks ? { stackSecrets: pulumi.secret(stacks.generatedSecrets) } : {}),
  };
};
