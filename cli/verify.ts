/**
 * `hcloud-swarm verify`: is every overlay of the cluster encrypted, with the right MTU, and does
 * every node enforce it? Exit 0 only when everything is proven; 2 when something is unprovable.
 */
import { Command } from "commander";
import { loadInventory } from "../inventory/inventory";
import { verifyCluster } from "../verify/run";
import { formatChecks } from "../verify/checks";

export function registerVerifyCommand(program: Command): void {
  program
    .command("verify")
    .description("Check that every overlay network (ingress included) is encrypted with the cluster's MTU, and that nodes enforce ESP.")
    .requiredOption("--inventory <file>", "inventory of the cluster")
    .option("--identity <key>", "SSH private key (default: each node's privateKeyPath)")
    .action(async (opts: { inventory: string; identity?: string }) => {
      const summary = await verifyCluster(loadInventory(opts.inventory), opts.identity);
      for (const l of formatChecks(summary)) console.log(l);
      process.exitCode = summary.exitCode;
    });
}
