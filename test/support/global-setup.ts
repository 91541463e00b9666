/**
 * Runs once before the integration suites: the local test bed needs root, Linux and a few Debian
 * packages. Installing them here (instead of failing in every suite) lets `npm test` pass on a
 * fresh Debian machine, as the README's two commands promise.
 */
import { ensurePrerequisites } from "../../local";

export default async function globalSetup(): Promise<void> {
  await ensurePrerequisites({ install: true, log: (msg) => console.log(`[test bed] ${msg}`) });
}
