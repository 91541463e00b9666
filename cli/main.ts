import { Command } from "commander";
import { registerLocal } from "./local";
import { registerBootstrapCommand } from "./bootstrap";
import { registerStackCommands } from "./stack";
import { registerVerifyCommand } from "./verify";
import { registerRecoveryCommands } from "./recovery";
import { registerUpgradeCommand } from "./upgrade";
import { packageVersion } from "./version";

/** Builds the `hcloud-swarm` command tree. Each command family lives in its own module. */
export function buildProgram(): Command {
  const program = new Command("hcloud-swarm")
    .description("A Docker Swarm on Hetzner Cloud (or on this machine) with every overlay encrypted.")
    .version(packageVersion(), "-V, --version", "print the version of hcloud-swarm")
    .showHelpAfterError();
  registerLocal(program);
  registerBootstrapCommand(program);
  registerStackCommands(program);
  registerVerifyCommand(program);
  registerRecoveryCommands(program);
  registerUpgradeCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
