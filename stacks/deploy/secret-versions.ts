// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Versioned Docker secrets: a Docker secret cannot change its value, so each value gets its own
 * name, `<stack>_<key>_v<first 8 hex of sha256(content)>`. A changed value is a new name; the
 * rendered stack points the service at it (same target path, /run/secrets/<key>) and `docker
 * stack deploy` rolls the service over; the old version is removed once no service uses it. Pure
 * choice of names; deploy.ts creates and removes.
 *
 * The hash in the name says nothing usable about the value: the values are 192 random bits.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import type { SecretSpec } from "../template/meta";
import { htpasswdLine, type GeneratedSecret } from "./secrets";

export function versionedName(base: string, content: string): string {
  return `${base}_v${createHash("sha256").update(content).digest("hex").slice(0, 8)}`;
}

/** Whether `name` is `base` itself (made before versioning) or one of its versions. */
export function isVersionOf(name: string, base: string): boolean {
  return name === base || (name.startsWith(`${base}_v`) && /^[0-9a-f]{8}$/.test(name.slice(base.length + 2)));
}

export interface SecretChoice {
  /** Docker name by secret key, for the renderer. */
  readonly names: Record<string, string>;
  /** Values to create, by Docker name (only for names the cluster does not have). */
  readonly values: Record<string, GeneratedSecret>;
  /** New values made here, under their base names (`<stack>_<key>`): written down before anything is created. */
  readonly fresh: GeneratedSecret[];
  /** Why an existing secret was kept as it is, for the log. */
  readonly notes: string[];
}

type Spec = SecretSpec & { readonly name: string };

/**
 * For each secret: a known value (Pulumi state, or the user's secrets file) gets its versioned
 * name; without one, a secret the cluster already has is kept as it is (its value cannot be read
 * back, and a new one could lock a database out); only a secret nobody has gets a new value.
 */
export function chooseSecretVersions(
  specs: readonly Spec[],
  known: Readonly<Record<string, GeneratedSecret>>,
  existing: ReadonlySet<string>,
  inUse: ReadonlySet<string>,
  generate: ((spec: Spec) => GeneratedSecret) | undefined,
  /**
   * Whether a known value may replace a version the cluster has of another value: true when the value
   * is a deliberate one (the user's file; a value this Pulumi state deployed before). Default: always.
   */
  deliberate: (base: string) => boolean = () => true,
): SecretChoice {
  const names: Record<string, string> = {};
  const values: Record<string, GeneratedSecret> = {};
  const fresh: GeneratedSecret[] = [];
  const notes: string[] = [];
  for (const spec of specs) {
    const base = spec.name;
    let value = known[base];
    if (!value) {
      const have = [...existing].filter((n) => isVersionOf(n, base)).sort();
      const kept = have.find((n) => inUse.has(n)) ?? have[have.length - 1];
      if (kept) {
        names[spec.key] = kept;
        notes.push(
          `secret ${kept} kept as it is: no value for ${base} is written down here (Pulumi state or the secrets file), and Docker never gives one back`,
        );
        continue;
      }
      if (!generate)
        throw new Error(
          `no kept value for secret ${base}; it is not created (the values come from the StackSecrets resource)`,
        );
      value = generate(spec);
      fresh.push(value);
    }
    const name = versionedName(base, value.content);
    const have = [...existing].filter((n) => isVersionOf(n, base)).sort();
    if (!existing.has(name) && have.length > 0 && !deliberate(base)) {
      // A value this state never deployed, against a secret someone did: a recreated state must not
      // roll a database's password it cannot know the database still expects.
      const kept = have.find((n) => inUse.has(n)) ?? have[have.length - 1];
      names[spec.key] = kept;
      notes.push(
        `secret ${kept} kept as it is: the value for ${base} was never deployed from this state, and the cluster's may be what its data expects`,
      );
      continue;
    }
    names[spec.key] = name;
    if (!existing.has(name)) values[name] = { ...value, name };
  }
  return { names, values, fresh, notes };
}

/**
 * The values written down in a secrets file (`<stack>_<key>=<reveal>` lines; `#` lines are old
 * values kept for reference). A user changes a value by editing its line; the next deploy
 * rolls it out. An htpasswd secret's line is `user:password`, and its content is rebuilt from it.
 */
export function readSecretsFile(file: string, specs: readonly Spec[]): Record<string, GeneratedSecret> {
  if (!fs.existsSync(file)) return {};
  const out: Record<string, GeneratedSecret> = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (line.startsWith("#") || !line.includes("=")) continue;
    const at = line.indexOf("=");
    const [name, reveal] = [line.slice(0, at), line.slice(at + 1)];
    const spec = specs.find((s) => s.name === name);
    if (!spec || reveal === "") continue;
    if (spec.generate === "htpasswd") {
      const colon = reveal.indexOf(":");
      if (colon <= 0) throw new Error(`${file}: ${name} must be user:password (an htpasswd secret)`);
      out[name] = { name, content: htpasswdLine(reveal.slice(0, colon), reveal.slice(colon + 1)), reveal };
    } else out[name] = { name, content: reveal, reveal };
  }
  return out;
}
