/**
 * SwarmCluster: wires the pure plan (plan.ts, firewall.ts, cloudinit.ts) to Hetzner resources.
 * Decisions live in the planners; this file only creates what they describe.
 */
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import type { Inventory, InventoryNode } from "../inventory/inventory";
import { orderedSwarmNodes } from "../bootstrap/swarm-node-order";
import type { SwarmNode } from "../bootstrap/swarm-node";
import { SwarmKeys } from "../bootstrap/swarm-keys";
import { renderUserData } from "./cloudinit";
import { ClusterConfig, configWarnings, NAMESPACE, validateConfig } from "./config";
import {
  describeDay2,
  type Day2Plan,
  existingLocations,
  existingNodes,
  fixedLabels,
  planDay2,
  type ServerFacts,
} from "./day2";
import { NodeRoll } from "./node-roll";
import { throwIfProblems } from "../common/problems";
import { firewallsOf, NodeAddresses, placeholderAddresses, planBaseFirewalls, planSwarmFirewalls } from "./firewall";
import { SshKeyPair } from "./keypair";
import { hcloudRules, inventoryNode, inventoryOf } from "./outputs";
import { DAEMON_JSON_DEFAULTS, type NodeSpec } from "../nodespec/spec";
import { ClusterPlan, MANAGED_BY, NodePlan, planCluster } from "./plan";

export interface SwarmClusterArgs {
  /** Prefix of every Hetzner name and the `cluster` label. Default: the component's name. */
  readonly clusterName?: string;
  /** Swarm managers: 1, 3, 5 or 7. Default 1. */
  readonly managers?: number;
  /** Swarm workers, 0 to 90. Default 2. */
  readonly workers?: number;
  /** Server type of every node unless overridden below. Default: none, required. */
  readonly serverType?: string;
  /** Server type of the managers. Default: serverType. */
  readonly managerServerType?: string;
  /** Server type of the workers. Default: serverType. */
  readonly workerServerType?: string;
  /** Locations; node i goes to locations[(i-1) % n]. Default ["nbg1"]. */
  readonly locations?: readonly string[];
  /** Ubuntu or Debian image name. Default "ubuntu-24.04". */
  readonly image?: string;
  /** Put the nodes on a Hetzner private network and run swarm over it. Default true. */
  readonly privateNetwork?: boolean;
  /** Private network range; the nodes get its first /24. Default "10.0.0.0/16". */
  readonly networkCidr?: string;
  /** Network zone of the private network. Default: the zone of the locations. */
  readonly networkZone?: string;
  /** Swarm's --default-addr-pool. Default "10.128.0.0/16". */
  readonly swarmAddressPool?: string;
  /** Sources allowed to reach SSH. Default ["0.0.0.0/0", "::/0"]. */
  readonly sshAllowedCidrs?: readonly string[];
  /** Extra public keys for root. Default []. */
  readonly adminSshKeys?: readonly string[];
  /** Docker CE release installed from Docker's apt repository. Default "28.5.1". */
  readonly dockerVersion?: string;
  /**
   * Swarm node labels: {"managers": {…}, "workers": {…}, "worker-1": {…}} (a node's own win over
   * its role's; see node-labels.ts). Default {}.
   */
  readonly nodeLabels?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Docker is already on the image (a Packer snapshot): cloud-init checks its version instead of installing. Default false. */
  readonly dockerOnImage?: boolean;
  /** A serverType change keeps each server's disk, so a later downgrade stays possible. Default true. */
  readonly keepDisk?: boolean;
  /**
   * What Hetzner lists for this cluster's servers now: `(await hcloud.getServers({withSelector:
   * "managed-by=hcloud-swarm"})).servers` (see infra/index.ts). Existing nodes keep their location,
   * are resized one at a time, and are never replaced. Without it every node is planned as new:
   * pass it for any cluster that exists. Default [].
   */
  readonly existingServers?: readonly ServerFacts[];
  /**
   * Labels that stacks pin their data to (`pins:` in a template): nodeLabels may not move or remove
   * one from the node that holds it. Default [].
   */
  readonly pinLabels?: readonly string[];
  /** hcloud:token for the resizes NodeRoll makes through the API. Default: $HCLOUD_TOKEN when they run. */
  readonly hcloudToken?: pulumi.Input<string>;
  /** Swarm autolock: a restarted manager stays locked until unlocked with the kept key; applied in place. Default true. */
  readonly autolock?: boolean;
}

/** The arguments that are not config keys (validateConfig would call them unknown). */
const NOT_CONFIG = ["existingServers", "pinLabels", "hcloudToken"];

/** One node's resources, for whatever has to happen per node after its server exists. */
export interface NodeResources {
  readonly plan: NodePlan;
  readonly server: hcloud.Server;
  readonly hostKey: SshKeyPair;
  /** The node's inventory entry: plain values, no secrets. */
  readonly inventory: pulumi.Output<InventoryNode>;
}

export class SwarmCluster extends pulumi.ComponentResource {
  readonly config: ClusterConfig;
  readonly plan: ClusterPlan;
  readonly nodes: NodeResources[] = [];
  /** What bootstrap and the CLI consume. No secrets. */
  readonly inventory: pulumi.Output<Inventory>;
  /** The deploy key's OpenSSH private key. Secret. */
  readonly sshPrivateKey: pulumi.Output<string>;
  readonly sshPublicKey: pulumi.Output<string>;
  /** Public-only mode: firewalls that open swarm ports between the nodes; joins must wait for them. */
  readonly swarmFirewalls: hcloud.Firewall[] = [];
  /** One SwarmNode (the node's swarm membership) per node, in plan order. */
  readonly swarmNodes: SwarmNode[];
  /** What this run does to each node (create, keep, resize), from what Hetzner lists now. */
  readonly day2: Day2Plan;
  /** This run's resizes, one NodeRoll per node, each waiting for the one before (managers first). */
  readonly rolls: NodeRoll[] = [];
  /** The swarm's keys: autolock, its unlock keys (secret output), join tokens rotated after joins. */
  readonly swarmKeys: SwarmKeys;
  /** The swarm's current unlock key ("" with autolock off). Secret. */
  readonly unlockKey: pulumi.Output<string>;
  /** The key backups are encrypted with, as a key file's text. Secret. */
  readonly backupKey: pulumi.Output<string>;

  constructor(name: string, args: SwarmClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before registering anything, so a bad config, or a day-2 change that would replace
    // or move a server, creates, updates and deletes nothing.
    const configArgs = Object.fromEntries(Object.entries(args).filter(([k]) => !NOT_CONFIG.includes(k)));
    const config = validateConfig(configArgs, name);
    const existing = existingNodes(config.clusterName, args.existingServers ?? []);
    const plan = planCluster(config, existingLocations(existing));
    const pinLabels = args.pinLabels ?? [];
    const day2 = planDay2(config, plan, existing, pinLabels);
    throwIfProblems(`${NAMESPACE} config (day two)`, [...day2.problems]);
    super("hcloud-swarm:index:SwarmCluster", name, {}, opts);
    // Never silent: without Hetzner's list a serverType change would be ignored, not rolled.
    if (args.existingServers === undefined)
      void pulumi.log.warn(
        "existingServers is not given: every node is planned as new, so a day-2 change (serverType, locations) is not rolled. Pass (await hcloud.getServers({withSelector: `cluster=<clusterName>,managed-by=hcloud-swarm`})).servers",
        this,
      );
    this.config = config;
    this.plan = plan;
    this.day2 = day2;
    // Loud at every `pulumi up` and preview while the config stays that way, for every user of the
    // component, not only this project's program.
    for (const warning of configWarnings(config)) void pulumi.log.warn(`WARNING: ${warning}`);
    // The preview's own account of each node: what the step list alone cannot say (a resize is a
    // NodeRoll, a kept location is no change at all).
    if (existing.size > 0 || day2.changes.some((c) => c.kind !== "create"))
      for (const line of describeDay2(day2)) void pulumi.log.info(`day 2: ${line}`);
    const parent = { parent: this };
    const labels = { cluster: plan.cluster, "managed-by": MANAGED_BY };

    const deployKey = new SshKeyPair(`${name}-deploy-key`, { comment: `hcloud-swarm-deploy@${plan.cluster}` }, parent);
    this.sshPrivateKey = pulumi.secret(deployKey.privateKey);
    this.sshPublicKey = deployKey.publicKey;
    const sshKey = new hcloud.SshKey(
      `${name}-deploy`,
      { name: `${plan.cluster}-deploy`, publicKey: deployKey.publicKey, labels },
      parent,
    );

    let subnet: hcloud.NetworkSubnet | undefined;
    if (plan.network) {
      const network = new hcloud.Network(
        `${name}-network`,
        { name: plan.cluster, ipRange: plan.network.cidr, labels },
        parent,
      );
      subnet = new hcloud.NetworkSubnet(
        `${name}-subnet`,
        {
          networkId: network.id.apply(Number),
          type: "cloud",
          networkZone: plan.network.zone,
          ipRange: plan.network.subnetCidr,
        },
        parent,
      );
    }

    const groups = new Map(
      plan.placementGroups.map((g) => [
        g.key,
        new hcloud.PlacementGroup(`${name}-pg-${g.key}`, { name: g.name, type: "spread", labels: g.labels }, parent),
      ]),
    );

    // Attached through Server.firewallIds, so they hold from the first boot.
    const basePlans = planBaseFirewalls(plan, config.sshAllowedCidrs);
    const baseFirewalls = new Map(
      basePlans.map((fw) => [
        fw.key,
        new hcloud.Firewall(`${name}-fw-${fw.key}`, { name: fw.name, labels, rules: hcloudRules(fw.rules) }, parent),
      ]),
    );

    for (const node of plan.nodes) {
      const hostKey = new SshKeyPair(`${name}-${node.name}-host-key`, { comment: `root@${node.serverName}` }, parent);
      const userData = pulumi.secret(
        pulumi.all([hostKey.privateKey, hostKey.publicKey]).apply(([privateKey, publicKey]) =>
          renderUserData({
            distro: config.distro,
            dockerVersion: config.dockerVersion,
            dockerOnImage: config.dockerOnImage,
            hostKey: { privateKey, publicKey },
            adminSshKeys: config.adminSshKeys,
          }),
        ),
      );
      const attachAtCreation = firewallsOf(basePlans, node.role).flatMap((fw) => baseFirewalls.get(fw.key) ?? []);
      const server = new hcloud.Server(
        `${name}-${node.name}`,
        {
          name: node.serverName,
          serverType: node.serverType,
          image: config.image,
          location: node.location,
          // What the cluster was created with, read back by the next run's plan (infra/day2.ts).
          labels: { ...node.serverLabels, ...fixedLabels(plan, node, pinLabels) },
          sshKeys: [sshKey.id],
          userData,
          firewallIds: attachAtCreation.map((f) => f.id.apply(Number)),
          // The swarm firewalls attach by label selector; without this the provider would try to
          // detach them again on every update.
          ignoreRemoteFirewallIds: true,
          placementGroupId: groups.get(node.placementGroup)?.id.apply(Number),
          publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }],
          ...(subnet && node.privateIp
            ? { networks: [{ subnetId: subnet.id, ip: node.privateIp, aliasIps: [] }] }
            : {}),
        },
        // A server may only join a network once its subnet exists. Hetzner replaces a server whose
        // userData or sshKeys change, and both only matter at first boot: a new release's cloud-init
        // text reaches new servers only, and existing ones are brought to the same rules in place.
        // serverType is resized by this node's NodeRoll, drained and one node at a time; the provider
        // would power every server of a role off together. See infra/day2.ts for every ForceNew input.
        {
          parent: this,
          ignoreChanges: ["userData", "sshKeys", "serverType"],
          ...(subnet ? { dependsOn: [subnet] } : {}),
        },
      );
      const inventory = pulumi
        .all([server.ipv4Address, hostKey.publicKey])
        .apply(([ipv4, hostPub]) => inventoryNode(node, ipv4, hostPub));
      this.nodes.push({ plan: node, server, hostKey, inventory });
    }

    // Public-only mode: swarm ports and ESP from the nodes' own addresses, known only now.
    const addresses = pulumi
      .all(this.nodes.map((n) => pulumi.all([n.server.ipv4Address, n.server.ipv6Address])))
      .apply((pairs) =>
        Object.fromEntries(
          pairs.map(([ipv4, ipv6], i) => [this.nodes[i].plan.name, { ipv4, ipv6 } satisfies NodeAddresses]),
        ),
      );
    for (const fw of planSwarmFirewalls(plan, placeholderAddresses(plan))) {
      const rules = addresses.apply((a) =>
        hcloudRules(planSwarmFirewalls(plan, a).find((f) => f.key === fw.key)?.rules ?? []),
      );
      const applyTos = "labelSelector" in fw.attach ? [{ labelSelector: fw.attach.labelSelector }] : [];
      this.swarmFirewalls.push(
        new hcloud.Firewall(`${name}-fw-${fw.key}`, { name: fw.name, labels, rules, applyTos }, parent),
      );
    }

    // Extension point: per-node work that needs the server up (e.g. its SwarmNode) loops over
    // this.nodes here. Available: node.server, node.inventory (plain values), this.sshPrivateKey
    // (secret) and this.swarmFirewalls (depend on them, so public-only joins find the ports open).

    // One SwarmNode per node (bootstrap/swarm-node-order.ts): init on manager-1, joins, and scale-down on delete.
    const members = this.nodes.map((n) => ({
      name: n.plan.name,
      role: n.plan.role,
      server: n.server,
      inventory: n.inventory,
    }));
    // What user data carried, as data: bootstrap's node reconcile step applies it in place (issue 18).
    const nodeSpec: NodeSpec = {
      ...(config.dockerOnImage ? {} : { dockerVersion: config.dockerVersion }),
      adminSshKeys: [...config.adminSshKeys],
      daemonJson: DAEMON_JSON_DEFAULTS,
    };
    this.swarmNodes = orderedSwarmNodes(
      name,
      members,
      {
        swarm: plan.swarm,
        ...(plan.firewall ? { firewall: plan.firewall } : {}),
        nodeSpec,
        privateKey: this.sshPrivateKey,
        dependsOn: this.swarmFirewalls,
      },
      this,
    );

    // After every membership: it settles the keys of the swarm they formed, and a new member's ID
    // (a join, which used the tokens) is what makes it rotate them.
    this.swarmKeys = new SwarmKeys(
      `${name}-swarm-keys`,
      {
        managers: pulumi.all(this.nodes.filter((n) => n.plan.role === "manager").map((n) => n.inventory)),
        privateKey: this.sshPrivateKey,
        autolock: plan.autolock,
        members: this.swarmNodes.map((m) => m.id),
      },
      { parent: this, dependsOn: this.swarmNodes },
    );
    this.unlockKey = pulumi.secret(this.swarmKeys.unlockKeys.apply((keys) => keys?.[0] ?? ""));
    this.backupKey = pulumi.secret(this.swarmKeys.backupKey);

    this.inventory = pulumi.all(this.nodes.map((n) => n.inventory)).apply((nodes) => ({
      ...inventoryOf(plan, nodes),
      nodeSpec,
      rolling: { maxUnavailable: config.maxUnavailable },
    }));

    // Resizes: one NodeRoll per node, each after the one before and after every membership, so the
    // provider never powers two servers off and a node is drained before its own.
    let previous: NodeRoll | undefined;
    for (const c of day2.changes) {
      if (c.kind !== "resize") continue;
      const node = this.nodes.find((n) => n.plan.name === c.node);
      if (!node) continue;
      const roll: NodeRoll = new NodeRoll(
        `${name}-${c.node}-roll`,
        {
          node: c.node,
          action: { kind: "resize", from: c.from, to: c.to, keepDisk: c.keepDisk },
          serverId: node.server.id.apply(Number),
          inventory: this.inventory,
          privateKey: this.sshPrivateKey,
          unlockKeys: this.swarmKeys.unlockKeys,
          ...(args.hcloudToken ? { hcloudToken: pulumi.secret(args.hcloudToken) } : {}),
          after: previous ? previous.id : "",
        },
        { parent: this, dependsOn: [...this.swarmNodes, this.swarmKeys, ...(previous ? [previous] : [])] },
      );
      this.rolls.push(roll);
      previous = roll;
    }
    this.registerOutputs({
      inventory: this.inventory,
      sshPrivateKey: this.sshPrivateKey,
      sshPublicKey: this.sshPublicKey,
      unlockKey: this.unlockKey,
      backupKey: this.backupKey,
    });
  }
}
