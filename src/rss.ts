/**
 * The process's peak resident set size in MB of 10^6 bytes, the unit every file size and budget here is
 * in. (getrusage's maxRSS is in KiB on Linux; dividing it by 1024 gives MiB, 4.9 % smaller, which the
 * benchmarks once compared against file sizes in MB.)
 */
export function peakRssMB(): number {
  return (process.resourceUsage().maxRSS * 1024) / 1e6;
}
