/**
 * The `hcloud-swarm:stacks` config list: which stacks `pulumi up` deploys after the swarm is
 * formed, and their variables. Every problem is collected and named by its config path.
 *
 *   hcloud-swarm:stacks:
 *     - template: traefik
 *       vars: {acme_email: ops@example.com, dashboard_domain: traefik.example.com}
 *     - template: wordpress
 *       name: blog            # default: the template's name
 *       vars: {domain: blog.example.com}
 *       pins: {wordpress-data: worker-2}   # default: deploy picks the least loaded eligible node
 *
 * A bare template name ("traefik") is short for {template: traefik} and suits templates
 * whose variables all have defaults.
 */
import { throwIfProblems } from "../../common/problems";
import { ValidationError } from "../../common/problems";
import type { PinRequest } from "../placement/placement-pins";
import { renderStack } from "../template/render";
import { stackText } from "../reading/stack-text";
import { nameProblem } from "../../transport/shell";
import { loadStackFile, templateNames } from "../template/template";

export const STACKS_CONFIG_KEY = "hcloud-swarm:stacks";

/** One stack to deploy, with the template text itself so the provider needs no files. */
export interface StackRequest {
  readonly name: string;
  readonly template: string;
  /** Path of the template, for messages. */
  readonly file: string;
  readonly text: string;
  readonly vars: Readonly<Record<string, string>>;
  /** The node for each placement pin that no node holds yet, like `--pin`. Default: none. */
  readonly pins: readonly PinRequest[];
}

/** Parses and checks the list, rendering each stack once so missing variables show at preview time. */
export function parseStacksConfig(value: unknown, mtu: number): StackRequest[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throwIfProblems(STACKS_CONFIG_KEY, [
      `${STACKS_CONFIG_KEY} must be a list such as ["traefik", {"template": "wordpress", "vars": {"domain": "blog.example.com"}}]`,
    ]);
  const problems: string[] = [];
  const out: StackRequest[] = [];
  const known = templateNames();
  (value as unknown[]).forEach((raw, i) => {
    const at = `${STACKS_CONFIG_KEY}[${i}]`;
    const entry = typeof raw === "string" ? { template: raw } : raw;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      problems.push(`${at} must be a template name or {template, name?, vars?, pins?}`);
      return;
    }
    const e = entry as { template?: unknown; name?: unknown; vars?: unknown; pins?: unknown };
    if (typeof e.template !== "string" || !known.includes(e.template)) {
      problems.push(`${at}.template must be one of ${known.join(", ")}, got ${JSON.stringify(e.template)}`);
      return;
    }
    const name = e.name ?? e.template;
    const badName = nameProblem("stack", name, `${at}.name`);
    if (badName) problems.push(badName);
    else if (out.some((o) => o.name === name))
      problems.push(`${at}.name "${name}" is used twice; give one of them another name`);
    const vars = e.vars ?? {};
    if (
      typeof vars !== "object" ||
      vars === null ||
      Array.isArray(vars) ||
      Object.values(vars).some((v) => typeof v !== "string")
    ) {
      problems.push(`${at}.vars must be an object of string values, e.g. {"domain": "blog.example.com"}`);
      return;
    }
    const t = loadStackFile(e.template);
    let declared: string[] = [];
    try {
      declared = renderStack(stackText(t.text, t.file), {
        stack: String(name),
        vars: vars as Record<string, string>,
        mtu,
      }).meta.pins.map((p) => p.label);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      problems.push(...err.problems.map((p) => `${at} (${e.template}): ${p.replace(/--var (\w+)/g, `vars.$1`)}`));
    }
    const pins = e.pins ?? {};
    if (
      typeof pins !== "object" ||
      pins === null ||
      Array.isArray(pins) ||
      Object.values(pins).some((v) => typeof v !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(v))
    ) {
      problems.push(`${at}.pins must map pin labels to node names, e.g. {"wordpress-data": "worker-2"}`);
    } else {
      for (const label of Object.keys(pins))
        if (!declared.includes(label))
          problems.push(
            `${at}.pins.${label}: ${e.template} declares no pin "${label}"; its pins: ${declared.join(", ") || "none"}`,
          );
    }
    const requests =
      typeof pins === "object" && pins !== null && !Array.isArray(pins)
        ? Object.entries(pins).map(([label, node]) => ({ label, node: String(node) }))
        : [];
    out.push({
      name: String(name),
      template: e.template,
      file: t.file,
      text: t.text,
      vars: vars as Record<string, string>,
      pins: requests,
    });
  });
  throwIfProblems(STACKS_CONFIG_KEY, problems);
  return out;
}
