// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Docker CLI's env-file reader (opts.ParseEnvFile, which the stack loader uses for `env_file:`),
 * for the Docker-dialect judge: lines split on "\n" (a trailing "\r" dropped), leading white space
 * trimmed, empty lines and `#` comments skipped, `KEY=value` split at the first "=" with the value
 * kept as written (no quotes removed, no interpolation), a bare `KEY` taken from the judge's
 * environment (and dropped when it has none there). A key holding white space, an empty key or
 * text that is not UTF-8 makes Docker refuse the file.
 */
import * as fs from "fs";
import type { InterpolationEnv } from "./interpolate";

export type EnvFileReading = { readonly vars: ReadonlyArray<readonly [string, string]> } | { readonly error: string };

/** Reads `file` as Docker does; undefined when it cannot be read here (the judge then refuses to guess). */
export function readEnvFile(file: string, env: InterpolationEnv): EnvFileReading | undefined {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  const text = buf.toString("utf8");
  if (Buffer.from(text, "utf8").compare(buf) !== 0) return { error: `env file ${file} contains invalid utf8 bytes` };
  const vars: Array<readonly [string, string]> = [];
  text
    .replace(/^\uFEFF/, "")
    .split("\n")
    .forEach((raw, i) => {
      const line = raw.replace(/\r$/, "").replace(/^\s+/, "");
      if (line === "" || line.startsWith("#")) return;
      const eq = line.indexOf("=");
      const key = eq < 0 ? line : line.slice(0, eq);
      if (key === "") throw new Error(`no variable name on line '${raw}'`);
      if (/\s/.test(key))
        throw new Error(`invalid env file (${file}): variable '${key}' contains whitespaces (line ${i + 1})`);
      if (eq >= 0) vars.push([key, line.slice(eq + 1)]);
      else if (Object.prototype.hasOwnProperty.call(env, key)) vars.push([key, env[key]]);
    });
  return { vars };
}
