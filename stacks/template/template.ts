/**
 * Finds a stack by template name (`traefik`, `wordpress`) or by file path, so `stack deploy`
 * and `stack lint` accept either.
 */
import * as fs from "fs";
import * as path from "path";
import { packageRoot } from "../../common/paths";
import { stackNameFromFile } from "../reading/source";

export interface StackFile {
  /** Path shown in messages. */
  readonly file: string;
  readonly text: string;
  /** Default stack name: the template's name, or the file's. */
  readonly defaultName: string;
  /** True for a template shipped with hcloud-swarm. */
  readonly builtin: boolean;
}

export function templatesDir(): string {
  return path.join(packageRoot(__dirname), "stacks", "templates");
}

/** Names of the shipped templates, sorted. */
export function templateNames(): string[] {
  const dir = templatesDir();
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, "stack.yml")))
    .map((d) => d.name)
    .sort();
}

/** Resolves NAME|FILE: an existing path wins; otherwise a shipped template of that name. */
export function loadStackFile(ref: string): StackFile {
  if (fs.existsSync(ref) && fs.statSync(ref).isFile()) {
    return {
      file: ref,
      text: fs.readFileSync(ref, "utf8"),
      defaultName: stackNameFromFile(path.resolve(ref)),
      builtin: false,
    };
  }
  const names = templateNames();
  if (!names.includes(ref)) {
    throw new Error(`"${ref}" is neither a file nor a template; templates: ${names.join(", ")}`);
  }
  const file = path.join(templatesDir(), ref, "stack.yml");
  return { file, text: fs.readFileSync(file, "utf8"), defaultName: ref, builtin: true };
}
