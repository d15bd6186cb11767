/**
 * Byte counts for people: the memory budget's errors, `model.*` estimates and `edgecrew models` print sizes
 * with binary units, the way `device.memory` is usually written (`6GiB`).
 */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** Bytes as a short human string with binary units (1 KiB = 1024 bytes), e.g. `4.1 MiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}
