// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * An Ed25519 SSH key pair generated once and kept in Pulumi state.
 *
 * A dynamic resource instead of a provider plugin (none can be installed here): create() makes
 * the key, and diff() never reports a change, so later `pulumi up`s keep the same key. A new key
 * would change the servers' userData and Hetzner would replace them. The private half is stored
 * as a secret (additionalSecretOutputs).
 */
import * as pulumi from "@pulumi/pulumi";
import { generateSshKeyPair } from "../common/sshkeys";

/** Plain provider-side inputs (the Pulumi side is SshKeyPairArgs). */
interface KeyPairInputs {
  readonly comment: string;
}

/** Plain provider-side outputs. */
interface KeyPairOutputs {
  readonly comment: string;
  readonly publicKey: string;
  readonly privateKey: string;
  readonly fingerprint: string;
}

const provider: pulumi.dynamic.ResourceProvider<KeyPairInputs, KeyPairOutputs> = {
  async create(inputs: KeyPairInputs): Promise<pulumi.dynamic.CreateResult<KeyPairOutputs>> {
    const pair = generateSshKeyPair(inputs.comment);
    return { id: pair.fingerprint, outs: { comment: inputs.comment, ...pair } };
  },
  // Never regenerate: a changed comment (e.g. a renamed cluster) keeps the existing key.
  async diff(): Promise<pulumi.dynamic.DiffResult> {
    return { changes: false };
  },
};

export interface SshKeyPairArgs {
  /** Comment at the end of the public key, e.g. "root@dev-manager-1". Fixed at creation; no default. */
  readonly comment: pulumi.Input<string>;
}

/** Type token: "pulumi-nodejs:dynamic/hcloud-swarm:SshKeyPair". Changing it would replace every key. */
export const SSH_KEY_PAIR_MODULE = "hcloud-swarm";
export const SSH_KEY_PAIR_TYPE = "SshKeyPair";

export class SshKeyPair extends pulumi.dynamic.Resource {
  /** "ssh-ed25519 AAAA… comment". */
  declare readonly publicKey: pulumi.Output<string>;
  /** OpenSSH private key. Secret. */
  declare readonly privateKey: pulumi.Output<string>;
  /** "SHA256:…", as `ssh-keygen -lf` prints it. */
  declare readonly fingerprint: pulumi.Output<string>;

  constructor(name: string, args: SshKeyPairArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      { comment: args.comment, publicKey: undefined, privateKey: undefined, fingerprint: undefined },
      { ...opts, additionalSecretOutputs: ["privateKey"] },
      SSH_KEY_PAIR_MODULE,
      SSH_KEY_PAIR_TYPE,
    );
  }
}
