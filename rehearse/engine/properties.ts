/**
 * Resource properties as the Pulumi SDK hands them to a monitor: plain JSON values in which a
 * secret is a wrapper object `{"4dabf…": "1b47…", value}` (the same signature Pulumi writes into
 * its state files). The engine stand-in keeps the wrappers in state, so what was secret stays
 * secret, and unwraps them only where a provider would see plaintext.
 */

export type Props = Record<string, unknown>;

/** The SDK's special-signature key and the signature of a secret (sdk/nodejs/runtime/rpc.ts). */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface SecretValue {
  readonly [SIG_KEY]: typeof SECRET_SIG;
  readonly value: unknown;
}

export function isSecret(v: unknown): v is SecretValue {
  return typeof v === "object" && v !== null && (v as Props)[SIG_KEY] === SECRET_SIG;
}

export function secret(value: unknown): SecretValue {
  return isSecret(value) ? value : { [SIG_KEY]: SECRET_SIG, value };
}

/** Removes secret wrappers at any depth: what a provider sees. */
export function unwrap(v: unknown): unknown {
  if (isSecret(v)) return unwrap(v.value);
  if (Array.isArray(v)) return v.map(unwrap);
  if (typeof v === "object" && v !== null && !(SIG_KEY in v))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
  return v;
}

export function unwrapProps(p: Props): Props {
  return unwrap(p) as Props;
}

/** Top-level keys whose value is a secret (or holds one). */
export function secretKeys(p: Props): string[] {
  return Object.keys(p).filter((k) => containsSecret(p[k]));
}

export function containsSecret(v: unknown): boolean {
  if (isSecret(v)) return true;
  if (Array.isArray(v)) return v.some(containsSecret);
  if (typeof v === "object" && v !== null) return Object.values(v).some(containsSecret);
  return false;
}

/** Wraps the given top-level keys of `p` as secrets (those present). */
export function withSecrets(p: Props, keys: Iterable<string>): Props {
  const out = { ...p };
  for (const k of keys) if (k in out && out[k] !== undefined && !isSecret(out[k])) out[k] = secret(out[k]);
  return out;
}

/** Maps every secret wrapper at any depth through `f` (used to encrypt and decrypt state files). */
export function mapSecrets(v: unknown, f: (s: Props) => Props): unknown {
  if (typeof v === "object" && v !== null && (v as Props)[SIG_KEY] === SECRET_SIG) return f(v as Props);
  if (Array.isArray(v)) return v.map((x) => mapSecrets(x, f));
  if (typeof v === "object" && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapSecrets(x, f)]));
  return v;
}
