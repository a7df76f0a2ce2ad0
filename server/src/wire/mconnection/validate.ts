/** Range checks shared by the config and channel validation (internal). */
import { InvalidConfigError } from "./errors.js";

/** Throws {@link InvalidConfigError} for `field` unless `value` is an integer in `min..max`. */
export function requireInteger(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(field, `must be an integer in ${min}..${max}, got ${value}`);
  }
}
