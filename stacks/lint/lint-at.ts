/** How a lint rule reports: the path of the value in Docker's reading, placed on the user's line by lint.ts. */
import type { ValuePath } from "../reading/origin";

export type At = (p: ValuePath, rule: string, message: string, extra?: { service?: string; network?: string }) => void;
