import * as fs from "fs";
import * as path from "path";
import { installedPulumiSdk, requireSupportedSdk, SUPPORTED_PULUMI_SDK } from "../../rehearse/engine/sdk-version";

const root = path.join(__dirname, "..", "..");

describe("the rehearsal engine's SDK version", () => {
  it("is the @pulumi/pulumi version package.json pins exactly", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    expect(pkg.dependencies["@pulumi/pulumi"]).toBe(SUPPORTED_PULUMI_SDK);
  });

  it("is the version installed in node_modules", () => {
    const installed = (
      JSON.parse(fs.readFileSync(path.join(root, "node_modules", "@pulumi", "pulumi", "package.json"), "utf8")) as {
        version: string;
      }
    ).version;
    expect(installed).toBe(SUPPORTED_PULUMI_SDK);
    expect(installedPulumiSdk()).toBe(installed);
  });

  it("refuses another version, naming the internals to check", () => {
    expect(() => requireSupportedSdk(SUPPORTED_PULUMI_SDK)).not.toThrow();
    expect(() => requireSupportedSdk("3.249.0")).toThrow(
      /supports @pulumi\/pulumi 3\.248\.0, found 3\.249\.0.*registerResource.*waitForRPCs/,
    );
  });
});
