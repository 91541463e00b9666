// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Secrets (join tokens, private keys) must never reach a terminal, a log or Pulumi state. Every
 * error and log line leaving bootstrap/ passes through `redact`, which removes both the secrets we
 * know by value and anything that merely looks like one (a token printed by a remote command we did
 * not expect to print it, a key pasted into an inventory by mistake).
 */

/** Swarm join tokens: SWMTKN-1-<cluster digest>-<secret>. */
const JOIN_TOKEN = /SWMTKN-1-[A-Za-z0-9]+(-[A-Za-z0-9]+)*/g;
/** Swarm unlock keys, as printed by `docker swarm unlock-key`. */
const UNLOCK_KEY = /SWMKEY-1-[A-Za-z0-9+/=]+/g;
/** PEM and OpenSSH private key blocks, including truncated ones (no END line). */
const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;

/** Shorter strings are too likely to occur by chance to be removed everywhere. */
const MIN_SECRET_LENGTH = 8;

/**
 * Kept on globalThis rather than in a module variable: the dynamic provider's code is serialized
 * with the values of the module variables it captures, and a registry that already held a key
 * would be written into Pulumi state in plaintext.
 */
function known(): Set<string> {
  // A string key: symbols do not survive Pulumi's closure serialization.
  const g = globalThis as unknown as Record<string, Set<string> | undefined>;
  return (g.__hcloudSwarmRedactSecrets ??= new Set<string>());
}

/** Registers a secret by value, so later output is scrubbed of it even if it has no known shape. */
export function registerSecret(secret: string | undefined): void {
  if (secret === undefined) return;
  const s = secret.trim();
  if (s.length >= MIN_SECRET_LENGTH) known().add(s);
  // A multi-line key can also show up line by line (e.g. in a stderr echo).
  if (s.includes("\n")) for (const line of s.split("\n")) if (line.trim().length >= 40) known().add(line.trim());
}

/** Removes every registered secret and every token- or key-shaped string from `text`. */
export function redact(text: string): string {
  let out = text;
  for (const s of known()) out = out.split(s).join("[REDACTED]");
  return out
    .replace(PRIVATE_KEY, "[REDACTED PRIVATE KEY]")
    .replace(JOIN_TOKEN, "SWMTKN-[REDACTED]")
    .replace(UNLOCK_KEY, "SWMKEY-[REDACTED]");
}

/** An Error whose message is redacted; the original error is not kept, since its message may hold a secret. */
export function redactedError(err: unknown, context?: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  const e = new Error(redact(context ? `${context}: ${message}` : message));
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string") (e as NodeJS.ErrnoException).code = code;
  return e;
}
