/**
 * The local test beds' public surface, for the CLI, demo, tests and the rehearsal: one interface for
 * both kinds (bed.ts), the namespace bed (ns/), the VM bed's programmatic API (vm/bed.ts), and the
 * names that stacks on a bed need (its image and its address ranges).
 */
export { anyBedStatus, bedKindOf, downAnyBed, upAnyBed } from "./driver";
export type { BedDownReport, BedKind, BedNodeSummary, BedUpOptions, BedUpSummary } from "./driver";
export { addNode, DEFAULT_DIR, openBed, upBed } from "./ns/ns-bed";
export type { Bed, UpOptions } from "./ns/ns-bed";
export { LOCAL_IMAGE } from "./common/container-image";
export { detectKernelFeatures } from "./ns/kernel";
export type { KernelFeature } from "./ns/kernel";
export { execInNode, nodeCommand } from "./ns/node";
export { BED_RANGE, LOCAL_ADDR_POOL } from "./ns/plan";
export { LOCAL_CLUSTER } from "./common/inventory-file";
export { bedStatus, formatStatus } from "./ns/status";
export type { BedStatus } from "./ns/status";
export { downBed } from "./ns/state";
export { downVmBed, openVmBed } from "./vm/vm-bed";
export type { BootedVm, BootRequest, VmBed, VmBedOptions, VmDownReport, VmInfo } from "./vm/vm-bed";
export { DEFAULT_PRIVATE_CIDR, VM_PUBLIC_RANGE } from "./vm/plan";
export { upVmBed } from "./vm/up";
export type { VmUpOptions, VmUpResult } from "./vm/up";
