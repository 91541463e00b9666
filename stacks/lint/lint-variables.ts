// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The environment a judge interpolates with. Every judge, and deploy's own `docker stack deploy`,
 * sees only the variables the tool gives it (none for `stack lint`, HOME and PATH on a manager),
 * so what is linted is what is deployed. A plain `docker stack deploy` typed in a shell would fill
 * `${VAR}` from that shell instead: where a port or a credential is taken from a variable the
 * judge did not have, the reading linted is not the one such a deploy gets. Those places are
 * named as warnings (they do not refuse: the tool's own deploy uses the linted reading).
 */
import { type GoMap, type GoValue, isGoMap } from "../reading/dialect";
import { QUALIFIER, SECRET_NAME } from "./lint-secrets";

/** `$VAR` and `${VAR…}` references, `$$` excepted. */
const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

function references(v: GoValue | undefined): string[] {
  if (typeof v !== "string") return [];
  return [...v.matchAll(REFERENCE)].map((m) => m[1] ?? m[2]).filter((x): x is string => x !== undefined);
}

/** Warnings for port and credential positions filled from variables outside `given`; `source` is the file before interpolation. */
export function unsetVariableWarnings(file: string, source: GoMap | undefined, given: readonly string[]): string[] {
  const out: string[] = [];
  const services = isGoMap(source) && isGoMap(source.services) ? source.services : undefined;
  for (const name of Object.keys(services ?? {})) {
    const svc = (services as GoMap)[name];
    if (!isGoMap(svc)) continue;
    const warn = (where: string, vars: string[]): void => {
      for (const v of [...new Set(vars)].filter((x) => !given.includes(x))) {
        out.push(
          `${file}: service "${name}": ${where} is taken from the variable ${v}, which the judge did not have (it interpolates with ${given.length ? `only ${given.join(" and ")}` : "an empty environment"}); stack deploy uses the linted reading, but a plain docker stack deploy from a shell where ${v} is set would publish or pass something else. Write the value in the file, or make it a template variable`,
        );
      }
    };
    if (Array.isArray(svc.ports))
      svc.ports.forEach((p, i) =>
        warn(
          `ports[${i}]`,
          isGoMap(p) ? [...references(p.published), ...references(p.target), ...references(p.mode)] : references(p),
        ),
      );
    const env = svc.environment;
    const entries: Array<[string, GoValue]> = isGoMap(env)
      ? Object.entries(env)
      : Array.isArray(env)
        ? env.map((x) => String(x)).map((x) => [x.split("=")[0], x.includes("=") ? x.slice(x.indexOf("=") + 1) : null])
        : [];
    for (const [k, v] of entries) {
      const credential =
        (SECRET_NAME.test(k) && !QUALIFIER.test(k)) || (typeof v === "string" && /:\/\/|password=|pwd=/i.test(v));
      if (credential) warn(`environment ${k}`, references(v));
    }
  }
  return out;
}
