// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Compose interpolation as Docker's CLI does it (`$$`, `$VAR`, `${VAR}`, `${VAR:-d}`, `${VAR-d}`,
 * `${VAR:?e}`, `${VAR?e}`), with its quirks kept, and the type casts it applies afterwards to the
 * few paths where a substituted string becomes a number or a boolean (`published: "${P:-3306}"`
 * is the integer 3306). Also the inverse, `escapeDollars`, that lets a value go through a second
 * interpolation unchanged: deploy uploads Docker's already interpolated reading, and
 * `docker stack deploy` interpolates once more.
 */
import { type GoMap, type GoValue, isGoMap, newGoMap } from "./dialect";

/** The variables interpolation sees; deploy and the judges use the same small set. */
export type InterpolationEnv = Readonly<Record<string, string>>;

// Leftmost-first alternation, as Go's regexp; `[^}]*` also spans newlines in both.
const PATTERN = /\$(?:(\$)|([_a-z][_a-z0-9]*(?::?[-?][^}]*)?)|\{([_a-z][_a-z0-9]*(?::?[-?][^}]*)?)\}|())/gi;

export interface Substituted {
  readonly value: string;
  /** Docker's error text, when it refuses the value. */
  readonly error?: string;
  /** Variables used without a value (Docker warns and uses ""). */
  readonly unset: readonly string[];
}

function lookup(env: InterpolationEnv, name: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined;
}

function cut(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return [s.slice(0, i), s.slice(i + sep.length)];
}

/**
 * Docker's template.Substitute. As in Docker, only the last substitution's outcome decides
 * whether the whole value is an error (`${X:?m} ${Y:-a}` is accepted, `${Y:-a} $` is not).
 */
export function substituteVars(template: string, env: InterpolationEnv): Substituted {
  let error: string | undefined;
  const unset: string[] = [];
  const value = template.replace(
    PATTERN,
    (_whole, escaped: string | undefined, named: string | undefined, braced: string | undefined) => {
      if (escaped) return escaped;
      const sub = named || braced || "";
      if (sub === "") {
        error = `Invalid template: ${JSON.stringify(template)}`;
        return "";
      }
      error = undefined;
      if (sub.includes(":-")) {
        const [name, def] = cut(sub, ":-");
        const v = lookup(env, name);
        return v === undefined || v === "" ? def : v;
      }
      if (sub.includes("-")) {
        const [name, def] = cut(sub, "-");
        return lookup(env, name) ?? def;
      }
      for (const sep of [":?", "?"]) {
        if (!sub.includes(sep)) continue;
        const [name, message] = cut(sub, sep);
        const v = lookup(env, name);
        if (v === undefined || (sep === ":?" && v === "")) {
          error = `required variable ${name} is missing a value: ${message}`;
          return "";
        }
        return v;
      }
      const v = lookup(env, sub);
      if (v === undefined) unset.push(sub);
      return v ?? "";
    },
  );
  return { value, ...(error !== undefined ? { error } : {}), unset };
}

type Cast = (s: string) => GoValue | undefined;
const toInt: Cast = (s) =>
  /^[+-]?[0-9]+$/.test(s) && Math.abs(Number(s)) <= Number.MAX_SAFE_INTEGER ? Number(s) : undefined;
const toFloat: Cast = (s) => (/^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(s) ? Number(s) : undefined);
const toBool: Cast = (s) => {
  const v = s.toLowerCase();
  return ["y", "yes", "true", "on"].includes(v) ? true : ["n", "no", "false", "off"].includes(v) ? false : undefined;
};

/** Docker's interpolateTypeCastMapping: paths (`*` any key, `[]` a list item) whose substituted text is cast. */
export const CAST_PATHS: ReadonlyArray<readonly [string, Cast, string]> = [
  ["services.*.configs.[].mode", toInt, "an integer"],
  ["services.*.secrets.[].mode", toInt, "an integer"],
  ["services.*.healthcheck.retries", toInt, "an integer"],
  ["services.*.healthcheck.disable", toBool, "a boolean"],
  ["services.*.deploy.replicas", toInt, "an integer"],
  ["services.*.deploy.update_config.parallelism", toInt, "an integer"],
  ["services.*.deploy.update_config.max_failure_ratio", toFloat, "a number"],
  ["services.*.deploy.rollback_config.parallelism", toInt, "an integer"],
  ["services.*.deploy.rollback_config.max_failure_ratio", toFloat, "a number"],
  ["services.*.deploy.restart_policy.max_attempts", toInt, "an integer"],
  ["services.*.deploy.placement.max_replicas_per_node", toInt, "an integer"],
  ["services.*.ports.[].target", toInt, "an integer"],
  ["services.*.ports.[].published", toInt, "an integer"],
  ["services.*.ulimits.*", toInt, "an integer"],
  ["services.*.ulimits.*.hard", toInt, "an integer"],
  ["services.*.ulimits.*.soft", toInt, "an integer"],
  ["services.*.privileged", toBool, "a boolean"],
  ["services.*.read_only", toBool, "a boolean"],
  ["services.*.stdin_open", toBool, "a boolean"],
  ["services.*.tty", toBool, "a boolean"],
  ["services.*.volumes.[].read_only", toBool, "a boolean"],
  ["services.*.volumes.[].volume.nocopy", toBool, "a boolean"],
  ["networks.*.external", toBool, "a boolean"],
  ["networks.*.internal", toBool, "a boolean"],
  ["networks.*.attachable", toBool, "a boolean"],
  ["volumes.*.external", toBool, "a boolean"],
  ["secrets.*.external", toBool, "a boolean"],
  ["configs.*.external", toBool, "a boolean"],
];

/** Docker joins path parts with "." and splits them again, so a key holding a dot never matches a cast. */
function castFor(castPath: readonly string[]): readonly [string, Cast, string] | undefined {
  const parts = castPath.join(".").split(".");
  return CAST_PATHS.find(([pattern]) => {
    const p = pattern.split(".");
    return p.length === parts.length && p.every((x, i) => x === "*" || x === parts[i]);
  });
}

export interface InterpolationResult {
  readonly data: GoMap;
  /** Docker's refusals, each with the path of the value (e.g. services.app.environment.A). */
  readonly problems: ReadonlyArray<{ readonly path: readonly string[]; readonly message: string }>;
  readonly unset: readonly string[];
}

/** Interpolates every string value (not keys) of a compose file, then casts as Docker does. */
export function interpolateConfig(config: GoMap, env: InterpolationEnv): InterpolationResult {
  const problems: Array<{ path: readonly string[]; message: string }> = [];
  const unset = new Set<string>();
  // `path` names the value (list indices as numbers); `castPath` is Docker's view, with "[]" for list items.
  const visit = (v: GoValue, path: string[], castPath: string[]): GoValue => {
    if (typeof v === "string") {
      const r = substituteVars(v, env);
      r.unset.forEach((u) => unset.add(u));
      if (r.error !== undefined) {
        problems.push({
          path,
          message: `invalid interpolation format for ${castPath.join(".")}: ${JSON.stringify(r.error)}; you may need to escape any $ with another $`,
        });
        return v;
      }
      if (r.value === v) return v;
      const cast = castFor(castPath);
      if (!cast) return r.value;
      const out = cast[1](r.value);
      if (out === undefined)
        problems.push({ path, message: `${castPath.join(".")}: "${r.value}" (after interpolation) is not ${cast[2]}` });
      return out ?? r.value;
    }
    if (Array.isArray(v)) return v.map((x, i) => visit(x, [...path, String(i)], [...castPath, "[]"]));
    if (isGoMap(v)) {
      const out = newGoMap();
      for (const k of Object.keys(v)) out[k] = visit(v[k], [...path, k], [...castPath, k]);
      return out;
    }
    return v;
  };
  const data = visit(config, [], []) as GoMap;
  return { data, problems, unset: [...unset].sort() };
}

/** `$` → `$$` in every string value (never in keys, which Docker does not interpolate). */
export function escapeDollars(v: GoValue): GoValue {
  if (typeof v === "string") return v.replace(/\$/g, "$$$$");
  if (Array.isArray(v)) return v.map(escapeDollars);
  if (isGoMap(v)) {
    const out = newGoMap();
    for (const k of Object.keys(v)) out[k] = escapeDollars(v[k]);
    return out;
  }
  return v;
}
