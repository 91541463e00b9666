/** The package's own version, for `hcloud-swarm --version`: read from package.json, so a release needs no second edit. */
import * as fs from "fs";
import * as path from "path";

/**
 * Walks up from this module to the package.json named hcloud-swarm: the module runs from cli/
 * under ts-jest and from dist/cli/ when built, so the distance to the package root differs.
 */
export function packageVersion(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "hcloud-swarm" && typeof pkg.version === "string") return pkg.version;
    }
    if (path.dirname(dir) === dir) throw new Error(`no package.json of hcloud-swarm above ${from}`);
  }
}
