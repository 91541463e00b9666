import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { DEFAULTS, KEYS, OBJECT_KEYS, validateConfig } from "../../../infra/config";

interface ProjectFile {
  name: string;
  main: string;
  runtime: { name: string; options: { typescript: boolean } };
  config: Record<string, { type: string; default: unknown; description: string; items?: { type: string } }>;
}

const projectText = fs.readFileSync(path.join(__dirname, "../../../Pulumi.yaml"), "utf8");
const project = YAML.parse(projectText) as ProjectFile;

describe("Pulumi.yaml", () => {
  it("names the project hcloud-swarm and runs infra/index.ts with TypeScript", () => {
    expect(project.name).toBe("hcloud-swarm");
    expect(project.runtime).toEqual({ name: "nodejs", options: { typescript: true } });
    expect(project.main).toBe("infra/index.ts");
    expect(fs.existsSync(path.join(__dirname, "../../..", project.main))).toBe(true);
  });

  it("documents every config key the program reads, with a type and a description", () => {
    expect(Object.keys(project.config).sort()).toEqual([...KEYS].sort());
    for (const [key, entry] of Object.entries(project.config)) {
      expect({ key, type: ["string", "integer", "boolean", "array"].includes(entry.type) }).toEqual({
        key,
        type: true,
      });
      expect(entry.description.length).toBeGreaterThan(20);
      expect(entry.default).toBeDefined();
    }
  });

  it("documents the object-valued keys, which Pulumi.yaml cannot declare, in its comments", () => {
    for (const key of OBJECT_KEYS) {
      expect(project.config[key]).toBeUndefined();
      expect(projectText).toMatch(new RegExp(`^# ${key} \\(object, default \\{\\}\\): .{40,}`, "m"));
    }
  });

  it("declares the same defaults as the program", () => {
    for (const [key, value] of Object.entries(DEFAULTS))
      expect({ key, value: project.config[key].default }).toEqual({ key, value });
    // Pulumi hands the defaults over as strings; validated, they give the program's own defaults.
    const asPulumiPassesThem = Object.fromEntries(
      Object.entries(project.config).map(([k, e]) => [
        k,
        typeof e.default === "string" ? e.default : JSON.stringify(e.default),
      ]),
    );
    expect(validateConfig({ ...asPulumiPassesThem, serverType: "cx23" }, "dev")).toEqual(
      validateConfig({ serverType: "cx23" }, "dev"),
    );
  });
});
