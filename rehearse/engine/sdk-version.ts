/**
 * The @pulumi/pulumi SDK this engine was written against. run-under-mocks.ts reaches past the
 * SDK's public API: it wraps the mock monitor's registerResource and registerResourceOutputs, and
 * calls the runtime's internal waitForRPCs to know when a program's registrations are done. Those
 * are not promised across releases; another version may drop or change them, and a run would
 * then record too few resources without failing. So the engine refuses any other version, and
 * test/unit/rehearse-sdk-version.test.ts fails when package.json's pin or the installed SDK moves:
 * bump this after checking those three internals in the new SDK's runtime/mocks.js and runtime/settings.js.
 */
import * as fs from "fs";
import * as path from "path";

export const SUPPORTED_PULUMI_SDK = "3.248.0";

/** The version of the @pulumi/pulumi package that `require` resolves from here. */
export function installedPulumiSdk(): string {
  const pkg = path.join(path.dirname(require.resolve("@pulumi/pulumi")), "package.json");
  return (JSON.parse(fs.readFileSync(pkg, "utf8")) as { version: string }).version;
}

/** Throws, saying what to do, unless the installed SDK is the one this engine supports. */
export function requireSupportedSdk(installed = installedPulumiSdk()): void {
  if (installed !== SUPPORTED_PULUMI_SDK) {
    throw new Error(
      `the rehearsal engine supports @pulumi/pulumi ${SUPPORTED_PULUMI_SDK}, found ${installed}: it patches the SDK's mock monitor (registerResource, registerResourceOutputs) and runtime (waitForRPCs); ` +
        `check those internals in the new SDK, then update SUPPORTED_PULUMI_SDK in rehearse/engine/sdk-version.ts`,
    );
  }
}
