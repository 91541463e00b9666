/**
 * `hcloud-swarm verify`: is every overlay of the cluster encrypted, with the right MTU, and does
 * every node enforce it? Exit 0 only when everything is proven; 2 when something is unprovable.
 */
import { Command } from "commander";
import { loadInventory } from "../inventory/inventory";
import { verifyCluster } from "../verify/collect";
import { formatChecks } from "../verify/checks";
import { DEFAULT_PROBE_IMAGE } from "../verify/wire";
import { printJson, verifyJson } from "./json";

export function registerVerifyCommand(program: Command): void {
  program
    .command("verify")
    .description(
      "Check that every overlay network (ingress included) is encrypted with the cluster's MTU, that nodes enforce ESP, and that every node's host firewall, boot order, sshd and cloud-init are as hcloud-swarm leaves them.",
    )
    .requiredOption("--inventory <file>", "inventory of the cluster")
    .option("--identity <key>", "SSH private key (default: each node's privateKeyPath)")
    .option(
      "--wire",
      "also prove it on the wire: capture on the nodes' underlay while probes cross every encrypted overlay, a plain control overlay and ingress; counts ESP, VXLAN and clear text (creates and removes a probe network, containers and service)",
    )
    .option(
      "--probe-image <image>",
      `image of the --wire probes, on the nodes or pullable (on the local beds: hcloud-swarm/busybox:local)`,
      DEFAULT_PROBE_IMAGE,
    )
    .option(
      "--json",
      "print the result as one JSON document on stdout (shape: docs/reference/cli.md); progress stays on stderr",
    )
    .action(
      async (opts: { inventory: string; identity?: string; wire?: boolean; probeImage: string; json?: boolean }) => {
        const wire = opts.wire ? { probeImage: opts.probeImage, log: (l: string) => console.error(l) } : undefined;
        const summary = await verifyCluster(loadInventory(opts.inventory), opts.identity, wire);
        if (opts.json) printJson(verifyJson(summary));
        else for (const l of formatChecks(summary)) console.log(l);
        process.exitCode = summary.exitCode;
      },
    );
}
