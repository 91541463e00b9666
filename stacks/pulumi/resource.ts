/**
 * The Input<> side of the stacks provider: a dynamic resource that `pulumi up` creates after
 * the swarm is formed. The private key, the secret values and `generatedSecrets` are secret in state.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Inventory } from "../../inventory/inventory";
import { stacksProvider, type StackEntry } from "./provider";
import type { GeneratedSecret } from "../deploy/secrets";

export interface StacksDeploymentArgs {
  /** The cluster's inventory (after bootstrap). */
  readonly inventory: pulumi.Input<Inventory>;
  /** OpenSSH private key for the nodes; pass a secret. */
  readonly privateKey: pulumi.Input<string>;
  /** Stacks in deploy order (from parseStacksConfig). Default: none. */
  readonly stacks?: pulumi.Input<readonly StackEntry[]>;
  /** Values of the generated secrets, from a StackSecrets resource (kept in state first). Default {}. */
  readonly secretValues?: pulumi.Input<Record<string, GeneratedSecret>>;
  /** Test bed only: run every service on this local image. Default: none. */
  readonly localImage?: pulumi.Input<string>;
}

export class StacksDeployment extends pulumi.dynamic.Resource {
  /** Rendered-file hash per stack. */
  declare readonly hashes: pulumi.Output<Record<string, string>>;
  /** Docker secret name → generated value. Secret. */
  declare readonly generatedSecrets: pulumi.Output<Record<string, string>>;
  /** Stacks still starting when the deploy's wait ended; the next `pulumi up` waits for them again. */
  declare readonly unconverged: pulumi.Output<string[]>;

  constructor(name: string, args: StacksDeploymentArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(
      stacksProvider,
      name,
      {
        inventory: args.inventory,
        privateKey: pulumi.secret(args.privateKey),
        stacks: args.stacks ?? [],
        secretValues: pulumi.secret(args.secretValues ?? {}),
        localImage: args.localImage,
        hashes: undefined,
        generatedSecrets: undefined,
        unconverged: undefined,
      },
      { ...opts, additionalSecretOutputs: ["generatedSecrets", "privateKey", "secretValues"] },
      "hcloud-swarm",
      "Stacks",
    );
  }
}
