import * as fs from "fs";
import * as path from "path";

/**
 * The package root (the folder holding package.json). Code runs both from the sources (ts-jest,
 * Pulumi's ts-node) and from dist/, so data files such as stack templates are found from here.
 */
export function packageRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find package.json above ${from}`);
    dir = parent;
  }
}
