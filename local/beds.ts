/**
 * Which driver serves a bed directory, and the commands that work on either kind: `local up`
 * replaces a bed of the other kind, `local down` removes both kinds, the others follow DIR's
 * state.json.
 */
import * as fs from "fs";
import * as path from "path";
import { canonicalDir } from "./common/bed-dir";
import type { BedDriver, BedKind, BedStatusJson, BedUpOptions, BedUpSummary } from "./driver";
import { nsBedDriver } from "./ns/ns-driver";
import { vmBedDriver } from "./vm/vm-driver";

/** Every kind; `local down` runs them in this order (the VM bed first: it leaves the namespace bed's state.json alone, while the namespace bed's down removes any state.json). */
export const BED_DRIVERS: readonly BedDriver[] = [vmBedDriver, nsBedDriver];

export function bedDriver(kind: BedKind): BedDriver {
  return kind === "vm" ? vmBedDriver : nsBedDriver;
}

/** The kind of bed DIR holds, from its state.json; undefined when it holds none. */
export function bedKindOf(dirArg: string): BedKind | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(canonicalDir(dirArg), "state.json"), "utf8")) as { kind?: string };
    return s.kind === "vm" ? "vm" : "ns";
  } catch {
    return undefined;
  }
}

/** The driver of the bed in DIR; the namespace bed's when DIR holds none (its messages say so). */
export function driverOf(dir: string): BedDriver {
  return bedDriver(bedKindOf(dir) ?? "ns");
}

/** `local up`: removes whatever bed DIR held (of either kind), then creates one of `kind`. */
export async function upAnyBed(o: BedUpOptions & { readonly kind: BedKind }): Promise<BedUpSummary> {
  const other = bedKindOf(o.dir);
  if (other && other !== o.kind) await downAnyBed(o.dir);
  return bedDriver(o.kind).up(o);
}

export interface BedDownReport {
  /** What was removed, e.g. "namespace bed hsw3", "VM bed hsv1", "3 qemu process(es)". */
  readonly removed: readonly string[];
}

/** `local down`: removes every bed of either kind in DIR; safe after a crash and when nothing is there. */
export async function downAnyBed(dir: string): Promise<BedDownReport> {
  const removed: string[] = [];
  for (const driver of BED_DRIVERS) removed.push(...(await driver.down(dir)));
  return { removed };
}

/** `local status` for whichever kind DIR holds. */
export function anyBedStatus(dir: string): Promise<string> {
  return driverOf(dir).status(dir);
}

/** `local status --json` for whichever kind DIR holds (the namespace bed's when none: kind null). */
export function anyBedStatusJson(dir: string): Promise<BedStatusJson> {
  return driverOf(dir).statusJson(dir);
}
