// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * StackSecrets: the values of the stacks' generated secrets, made and kept in Pulumi state (as
 * secrets) before any Docker secret exists. The stacks resource depends on it and creates the
 * Docker secrets from these values, so no value is ever created in the cluster without first
 * being written down, even if the deploy that follows fails or is killed.
 *
 * A value is made once per secret name and kept across updates; a new stack adds values, a
 * changed spec (another generator or user) makes a new one, a removed stack drops its own.
 */
import * as pulumi from "@pulumi/pulumi";
import type { SecretKind } from "../template/meta";
import { generateValue, type GeneratedSecret } from "../deploy/secrets";
import { sameValue } from "../../common/same-value";

/** One generated secret: its Docker name (`<stack>_<key>`) and how to make it. */
export interface SecretValueSpec {
  readonly name: string;
  readonly generate: SecretKind;
  /** htpasswd only: the user name. */
  readonly user: string;
}

interface Inputs {
  readonly specs: readonly SecretValueSpec[];
}

interface Outputs extends Inputs {
  /** Docker secret name → its content and what a person needs to use it. Secret. */
  readonly values: Readonly<Record<string, GeneratedSecret>>;
}

/** Keeps the values of specs that did not change, makes the others. */
function values(specs: readonly SecretValueSpec[], olds?: Outputs): Record<string, GeneratedSecret> {
  const same = (s: SecretValueSpec) => olds?.specs.some((o) => sameValue(o, s)) && olds.values[s.name] !== undefined;
  return Object.fromEntries(
    specs.map((s) => [s.name, same(s) ? (olds as Outputs).values[s.name] : generateValue(s.name, s.generate, s.user)]),
  );
}

const provider: pulumi.dynamic.ResourceProvider<Inputs, Outputs> = {
  async diff(_id, olds, news) {
    return { changes: !sameValue(olds.specs, news.specs), replaces: [], deleteBeforeReplace: false };
  },
  async create(inputs) {
    return { id: "stack-secrets", outs: { specs: inputs.specs, values: values(inputs.specs) } };
  },
  async update(_id, olds, news) {
    return { outs: { specs: news.specs, values: values(news.specs, olds) } };
  },
};

/** Type token: "pulumi-nodejs:dynamic/hcloud-swarm:StackSecrets". */
export const STACK_SECRETS_MODULE = "hcloud-swarm";
export const STACK_SECRETS_TYPE = "StackSecrets";

export interface StackSecretsArgs {
  /** Every generated secret of the configured stacks. Default: none. */
  readonly specs?: pulumi.Input<readonly SecretValueSpec[]>;
}

export class StackSecrets extends pulumi.dynamic.Resource {
  /** Docker secret name → {name, content, reveal}. Secret. */
  declare readonly values: pulumi.Output<Record<string, GeneratedSecret>>;

  constructor(name: string, args: StackSecretsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      { specs: args.specs ?? [], values: undefined },
      { ...opts, additionalSecretOutputs: ["values"] },
      STACK_SECRETS_MODULE,
      STACK_SECRETS_TYPE,
    );
  }
}
