/**
 * The local test bed's public surface, for the CLI, demo and tests: bring a bed up or down, open a
 * running one, and the names that stacks on the bed need (its image and its address range).
 */
export { addNode, DEFAULT_DIR, openBed, upBed } from "./bed";
export type { Bed, UpOptions } from "./bed";
export { LOCAL_IMAGE } from "./image";
export { detectKernelFeatures } from "./kernel";
export type { KernelFeature } from "./kernel";
export { execInNode, nodeCommand } from "./node";
export { BED_RANGE, LOCAL_ADDR_POOL, LOCAL_CLUSTER } from "./plan";
export { bedStatus, formatStatus } from "./status";
export type { BedStatus } from "./status";
export { downBed } from "./state";
