/**
 * The live display of a study: runs done / running / failed and the ETA. On a terminal it is one
 * line on stderr, rewritten in place; otherwise plain lines, one per event, fit for logs and CI.
 * The ETA extrapolates the tokens trained in this session (every run's budget is known up front).
 */

export interface ProgressCounts {
  total: number;
  done: number;
  running: number;
  failed: number;
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export class Progress {
  private readonly start = performance.now();
  private trained = 0; // tokens trained in this session
  private remaining: number;
  private lastDraw = 0;

  constructor(
    private readonly counts: ProgressCounts,
    /** Tokens still to train when the session starts. */
    remainingTokens: number,
    private readonly out: NodeJS.WriteStream | { isTTY?: boolean; write(s: string): unknown } = process.stderr,
  ) {
    this.remaining = remainingTokens;
  }

  /** Seconds left, from the session's token rate; NaN before anything was trained. */
  eta(): number {
    const elapsed = (performance.now() - this.start) / 1000;
    return this.trained > 0 ? (this.remaining / this.trained) * elapsed : NaN;
  }

  line(): string {
    const c = this.counts;
    return `ablate: ${c.done}/${c.total} done, ${c.running} running, ${c.failed} failed, eta ${formatDuration(this.eta())}`;
  }

  /** Tokens trained since the last call (from a worker's step message). */
  advance(tokens: number): void {
    this.trained += tokens;
    this.remaining = Math.max(0, this.remaining - tokens);
    if (this.out.isTTY && performance.now() - this.lastDraw > 250) this.draw();
  }

  /** A run's tokens that will not be trained after all (it failed or was already trained). */
  drop(tokens: number): void {
    this.remaining = Math.max(0, this.remaining - tokens);
  }

  /** Tokens counted as trained that will be trained again (a retried run restarts from its checkpoint). */
  restore(tokens: number): void {
    this.remaining += tokens;
  }

  /** An event worth a line of its own ("done precision/fp/seed-1"), then the status. */
  event(text: string): void {
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[K${text}\n`);
      this.draw();
    } else this.out.write(`${this.line()}  | ${text}\n`);
  }

  private draw(): void {
    this.lastDraw = performance.now();
    this.out.write(`\r\x1b[K${this.line()}`);
  }

  end(): void {
    if (this.out.isTTY) this.out.write(`\r\x1b[K${this.line()}\n`);
  }
}
