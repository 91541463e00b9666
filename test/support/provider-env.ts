/**
 * The environment the rebuilt dynamic providers read. require-from-string compiles them in Node's
 * own module system, as Pulumi's provider host does, where `process.env` is the process's real
 * one; jest gives each test file a copy of it, so a variable a test sets on its own `process.env`
 * never reaches a provider. Set provider variables (HCLOUD_SWARM_QUIET, …) here instead.
 */
import requireFromString from "require-from-string";

export const providerEnv = requireFromString("module.exports = process.env") as NodeJS.ProcessEnv;
