/**
 * Learning-rate and weight-decay schedules: pure functions of the step (0-based) and the run length,
 * so a resumed run recomputes exactly the values the uninterrupted run used.
 */
import type { LrSchedule, WdSchedule } from '../config/train.ts';

/** Linear warmup: step 0 gets peak/warmup, step warmup−1 gets peak. */
function warm(peak: number, warmup: number, step: number): number | null {
  return step < warmup ? (peak * (step + 1)) / warmup : null;
}

/** Fraction of the way from a to b over [start, end), clamped to [0, 1]. */
function progress(step: number, start: number, end: number): number {
  if (end <= start) return 1;
  return Math.min(1, Math.max(0, (step - start) / (end - start)));
}

/**
 * The learning rate at `step` of a `total`-step run.
 * - cosine: warmup, then cosine from peak to peak·min_ratio at the last step.
 * - two_stage (BitNet b1.58): warmup, stage 1 decays linearly from peak to end1 (default: peak, i.e.
 *   flat); at split·total the LR is cut to peak2, and stage 2 decays linearly to peak2·min_ratio.
 *   The cut is what produces the papers' sudden loss drop in the middle of training.
 * - constant: warmup, then peak.
 * - wsd (warmup-stable-decay): warmup, flat at peak, then linear to peak·min_ratio over the last
 *   `decay` fraction of the run (the last step at the minimum).
 */
export function lrAt(s: LrSchedule, step: number, total: number): number {
  const w = warm(s.peak, s.warmup, step);
  if (w !== null) return w;
  const last = Math.max(total - 1, s.warmup);
  switch (s.kind) {
    case 'constant':
      return s.peak;
    case 'cosine': {
      const p = progress(step, s.warmup, last);
      const min = s.peak * s.min_ratio;
      return min + (s.peak - min) * 0.5 * (1 + Math.cos(Math.PI * p));
    }
    case 'wsd': {
      const start = Math.max(s.warmup, Math.round((1 - s.decay) * total));
      const min = s.peak * s.min_ratio;
      return step < start ? s.peak : s.peak + (min - s.peak) * progress(step, start, last);
    }
    case 'two_stage': {
      const split = Math.max(s.warmup, Math.round(s.split * total));
      const end1 = s.end1 ?? s.peak;
      if (step < split) return s.peak + (end1 - s.peak) * progress(step, s.warmup, split);
      const min = s.peak2 * s.min_ratio;
      return s.peak2 + (min - s.peak2) * progress(step, split, last);
    }
  }
}

/** Weight decay at `step`: constant, or two-stage (BitNet b1.58: 0.1 in stage 1, 0 in stage 2 so ternary codes settle). */
export function wdAt(s: WdSchedule, step: number, total: number): number {
  if (s.kind === 'constant') return s.value;
  return step < Math.round(s.split * total) ? s.value : s.value2;
}
