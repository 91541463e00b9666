/**
 * The local test bed's public surface, for the CLI, demo and tests: bring a bed up or down, open a
 * running one, and the names that stacks on the bed need (its image and its address range).
 */
export { addNode, DEFAULT_DIR, openBed, upBed } from "./ns/bed";
export type { Bed, UpOptions } from "./ns/bed";
export { LOCAL_IMAGE } from "./image";
export { detectKernelFeatures } from "./ns/kernel";
export type { KernelFeature } from "./ns/kernel";
export { execInNode, nodeCommand } from "./ns/node";
export { BED_RANGE, LOCAL_ADDR_POOL, LOCAL_CLUSTER } from "./ns/plan";
export { bedStatus, formatStatus } from "./ns/status";
export type { BedStatus } from "./ns/status";
export { downBed } from "./ns/state";
