/**
 * The local test beds' public surface: code outside local/ (cli, bench, demo, rehearse, tests)
 * imports from here only; eslint enforces it. The tests of local/'s own internals
 * (test/unit/local-*.test.ts, test/integration/local-bed-*.test.ts) may import the modules themselves.
 *
 * - Either kind through one driver (driver.ts, beds.ts): up, down, status, exec, shape, and the
 *   optional capabilities only one kind has.
 * - What both kinds share (common/): the container image on the nodes, host commands, shape requests.
 * - The namespace bed's programmatic API (ns/): nodes, their processes and faults, for tests and benches.
 * - The VM bed's programmatic API (vm/): VMs, their power and readiness, for the rehearsal and VM tests.
 */

// Either kind.
export {
  anyBedStatus,
  anyBedStatusJson,
  BED_DRIVERS,
  bedDriver,
  bedKindOf,
  downAnyBed,
  driverOf,
  upAnyBed,
} from "./beds";
export type { BedDownReport } from "./beds";
export type {
  BedDriver,
  BedKind,
  BedStatusJson,
  BedNodeSummary,
  BedUpOptions,
  BedUpSummary,
  PowerControl,
  ShapeOutcome,
} from "./driver";

// Shared by both kinds.
export { BUSYBOX, LOCAL_IMAGE } from "./common/container-image";
export { CommandError, run, sh } from "./common/host-command";
export type { RunOptions, RunResult } from "./common/host-command";
export { inventoryPath, LOCAL_CLUSTER, writeInventory } from "./common/inventory-file";
export { ensureClientKey } from "./common/client-key";
export { ensurePrerequisites, requireLinuxRoot } from "./common/prerequisites";
export { CLEAR, formatShapes, isEmptyRequest, parseShapeArgs, selectNodes } from "./common/shape-request";
export type { NodeShape, ShapeAction, ShapeArgs, ShapeRequest } from "./common/shape-request";
export { sshBanner } from "./common/ssh-banner";

// The namespace bed.
export { addNode, DEFAULT_DIR, openBed, upBed } from "./ns/ns-bed";
export type { Bed, UpOptions } from "./ns/ns-bed";
export { downBed } from "./ns/state";
export { createNodeCgroups, procsFiles } from "./ns/cgroups";
export { detectKernelFeatures } from "./ns/kernel";
export type { KernelFeature } from "./ns/kernel";
export { METADATA_ADDRESS, createIntruder, createMetadataService, createOutsider } from "./ns/network";
export {
  dropSshSessions,
  execInNode,
  nodeCommand,
  nodeProcesses,
  powerOff,
  sshdAnswers,
  startDockerd,
  startSshd,
  stopPid,
  waitDockerd,
  waitSshd,
} from "./ns/node";
export type { NodeProcesses } from "./ns/node";
export type { NodeRecord } from "./ns/node-files";
export { BED_RANGE, LOCAL_ADDR_POOL } from "./ns/plan";
export { readShape, shapeNodes } from "./ns/shape";
export { bedStatus, formatStatus } from "./ns/status";
export type { BedStatus } from "./ns/status";

// The VM bed.
export { ensureGuestImage } from "./vm/guest-disk";
export { locationRequests } from "./vm/locations";
export type { Locations } from "./vm/locations";
export { DEFAULT_PRIVATE_CIDR, VM_PUBLIC_RANGE } from "./vm/plan";
export { powerOffVm, powerOnVm, qemuPidOf } from "./vm/power";
export { qemuPidsByPrefix, readPid, rssMiB } from "./vm/qemu";
export { VM_SSHD_TIMEOUT_MS, waitUntilReady } from "./vm/readiness";
export { shapeVmNodes, vmShapeContext } from "./vm/shape";
export { readVmState, vmPaths } from "./vm/state";
export { vmInventory } from "./vm/inventory";
export { upVmBed } from "./vm/up";
export type { VmUpOptions, VmUpResult } from "./vm/up";
export { downVmBed, openVmBed } from "./vm/vm-bed";
export type { BootedVm, BootRequest, VmBed, VmBedOptions, VmDownReport, VmInfo } from "./vm/vm-bed";
