// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The plain-secret rule: a credential that would sit in plain text in the service's spec (anyone
 * who may run `docker service inspect` reads it, and it is stored unencrypted in the swarm's Raft
 * log). Docker's reading already holds `env_file` lines inside `environment`, so they are judged
 * the same way. Three detectors, in this order:
 *   1. values clearly not secrets are exempt: empty, booleans, numbers, paths under /run/secrets,
 *      `*_FILE` keys (the image reads the secret from that file), the shell's PWD/OLDPWD;
 *   2. the value: secretlint's recommended rules (secretlint.ts), plus three shapes it misses —
 *      a URL with a password and an empty user (`redis://:pw@host`), `password=` inside JDBC, ADO
 *      or JAVA_OPTS strings, and a PEM private key of any length;
 *   3. the key's name, for obvious names (DB_PASSWORD, DB_PASS, *_PW, *_PASSPHRASE, *_TOKEN,
 *      *_SECRET, *_KEY…), except names that qualify the credential rather than hold it
 *      (TOKEN_TTL_SECONDS, PASSWORD_MIN_LENGTH, SECRETS_DIR…).
 */
import type { GoMap } from "../reading/dialect";
import { isGoMap } from "../reading/dialect";
import type { At } from "./lint-at";
import { secretlintHits } from "./secretlint";
import type { EnvVar, ServiceModel } from "../reading/structure";

export const SECRET_NAME =
  /(PASSW(OR)?D|PASSWD|PASSPHRASE|(^|_)PASS($|_)|(^|_)PWD?($|_)|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|(^|_)KEY$|CREDENTIAL|AUTH_?KEY|SALT)/i;
/** A last word that makes the name about the credential, not the credential itself. */
export const QUALIFIER =
  /_(TTL|SECONDS|MINUTES|HOURS|DAYS|EXPIRY|EXPIRES|EXPIRATION|LIFETIME|TIMEOUT|LENGTH|LEN|DIR|PATH|FILE|ENABLED|REQUIRED|HEADER|TYPE|ALGORITHM|POLICY|NAME|ID|URL|URI|ENDPOINT|HOST|PORT|USER|USERNAME|PREFIX|ROTATION)$/i;
/** Shell variables that contain "PWD" but hold directories. */
const SHELL_DIRS: readonly string[] = ["PWD", "OLDPWD"];
const NOT_SECRET_VALUE = /^(true|false|yes|no|on|off|y|n|-?\d+(\.\d+)?)$/i;
const URL_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^@\s/]+@/i;
const OPTION_PASSWORD = /(?:^|[\s;?&,'"])(?:-D)?[\w.-]*(?:password|passwd|pwd|passphrase)\s*=\s*([^\s;&,'"]+)/i;
const PEM_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----/;

/** Why a value is exempt, or undefined. */
function exempt(e: EnvVar): boolean {
  const v = e.value.trim();
  return (
    v === "" ||
    e.key.toUpperCase().endsWith("_FILE") ||
    v === "/run/secrets" ||
    v.startsWith("/run/secrets/") ||
    SHELL_DIRS.includes(e.key) ||
    NOT_SECRET_VALUE.test(v)
  );
}

/** What in the value is a credential, by our own patterns; undefined when none matches. */
function valueShape(v: string): string | undefined {
  if (PEM_KEY.test(v)) return "a PEM private key";
  if (URL_PASSWORD.test(v)) return "a URL with a password in it (user:password@, or :password@ with an empty user)";
  const m = OPTION_PASSWORD.exec(v);
  if (m && !m[1].startsWith("/run/secrets/")) return "a password= option (as in a JDBC, ADO.NET or JAVA_OPTS string)";
  return undefined;
}

/** Rule ids secretlint answers with, as words for the message. */
const describeRule = (rule: string): string => rule.replace(/^@secretlint\/secretlint-rule-/, "").replace(/-/g, " ");

/** Whether `key` of service `name` is written under environment: in the source (else it came from env_file). */
function writtenInEnvironment(source: GoMap | undefined, name: string, key: string): boolean {
  const svc = isGoMap(source) && isGoMap(source.services) ? source.services[name] : undefined;
  const env = isGoMap(svc) ? svc.environment : undefined;
  if (isGoMap(env)) return Object.prototype.hasOwnProperty.call(env, key);
  if (Array.isArray(env)) return env.some((x) => typeof x === "string" && (x === key || x.startsWith(`${key}=`)));
  return !(isGoMap(svc) && svc.env_file !== undefined);
}

/** Judges every service's environment; `source` is the user's file read as Docker reads YAML (before interpolation). */
export function secretRules(services: readonly ServiceModel[], source: GoMap | undefined, at: At): void {
  const candidates = services.flatMap((svc) => svc.environment.filter((e) => !exempt(e)).map((e) => ({ svc, e })));
  const hits = secretlintHits(candidates.map(({ e }) => `${e.key}=${e.value}`));
  for (const [i, { svc, e }] of candidates.entries()) {
    const lib = hits.filter((h) => h.index === i).map((h) => describeRule(h.rule));
    const shape = valueShape(e.value);
    const byName = SECRET_NAME.test(e.key) && !QUALIFIER.test(e.key);
    if (lib.length === 0 && !shape && !byName) continue;
    const what = lib.length
      ? `its value is ${[...new Set(lib)].join(", ")} (secretlint)`
      : shape
        ? `its value holds ${shape}`
        : `its name says it is a credential`;
    const written = writtenInEnvironment(source, svc.name, e.key);
    const from = written ? "environment" : "a line of env_file";
    // A line of an env file has no line in the stack file: point at the env_file: entry.
    at(
      written ? e.path : [...svc.path, "env_file"],
      "plain-secret",
      `${e.key} (from ${from}): ${what}; the service would get it as plain text in its spec, readable by anyone who can run docker service inspect and kept unencrypted in the swarm's state; put it in a Docker secret and give the service ${e.key}_FILE=/run/secrets/<name> (or the image's own *_FILE variable)`,
      { service: svc.name },
    );
  }
}
