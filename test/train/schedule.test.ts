import { expect } from 'chai';
import { LrSchedule, WdSchedule } from '../../src/config/train.ts';
import { lrAt, wdAt } from '../../src/train/schedule.ts';

describe('train/schedule', () => {
  it('cosine: linear warmup to the peak, then down to peak·min_ratio at the last step', () => {
    const s = LrSchedule.parse({ kind: 'cosine', peak: 1e-3, warmup: 10, min_ratio: 0.1 });
    expect(lrAt(s, 0, 100)).to.be.closeTo(1e-4, 1e-12);
    expect(lrAt(s, 9, 100)).to.be.closeTo(1e-3, 1e-12);
    expect(lrAt(s, 10, 100)).to.be.closeTo(1e-3, 1e-12);
    expect(lrAt(s, 99, 100)).to.be.closeTo(1e-4, 1e-12);
    // halfway through the decay: the mean of peak and min
    expect(lrAt(s, 10 + 89 / 2, 100)).to.be.closeTo(5.5e-4, 1e-9);
    for (let i = 11; i < 100; i++) expect(lrAt(s, i, 100)).to.be.at.most(lrAt(s, i - 1, 100));
  });

  it('two_stage: a sudden cut to peak2 at the split, then decay to about zero', () => {
    const s = LrSchedule.parse({ kind: 'two_stage', peak: 3e-3, peak2: 1e-3, end1: 2e-3, warmup: 5, split: 0.5 });
    expect(lrAt(s, 4, 100)).to.be.closeTo(3e-3, 1e-12);
    expect(lrAt(s, 49, 100)).to.be.closeTo(3e-3 - (1e-3 * 44) / 45, 1e-12);
    expect(lrAt(s, 50, 100)).to.be.closeTo(1e-3, 1e-12); // the cut
    expect(lrAt(s, 99, 100)).to.be.closeTo(0, 1e-12);
    expect(lrAt(s, 49, 100) - lrAt(s, 50, 100)).to.be.above(9e-4);
  });

  it('wsd: warmup, flat at the peak, then linear to peak·min_ratio over the last 20 % (0 at the last step)', () => {
    const s = LrSchedule.parse({ kind: 'wsd', peak: 2e-3, warmup: 10 });
    expect(lrAt(s, 0, 100)).to.be.closeTo(2e-4, 1e-12);
    for (let i = 9; i < 80; i++) expect(lrAt(s, i, 100)).to.be.closeTo(2e-3, 1e-15);
    expect(lrAt(s, 80, 100)).to.be.closeTo(2e-3, 1e-15); // the decay starts from the peak
    expect(lrAt(s, 90, 100)).to.be.closeTo(2e-3 * (1 - 10 / 19), 1e-12);
    expect(lrAt(s, 99, 100)).to.be.closeTo(0, 1e-15);
    const t = LrSchedule.parse({ kind: 'wsd', peak: 1e-3, warmup: 0, decay: 0.5, min_ratio: 0.1 });
    expect(lrAt(t, 99, 100)).to.be.closeTo(1e-4, 1e-15);
    for (let i = 51; i < 100; i++) expect(lrAt(t, i, 100)).to.be.below(lrAt(t, i - 1, 100));
  });

  it('two_stage weight decay: value before the split, value2 after', () => {
    const w = WdSchedule.parse({ kind: 'two_stage', value: 0.1 });
    expect(wdAt(w, 0, 10)).to.equal(0.1);
    expect(wdAt(w, 4, 10)).to.equal(0.1);
    expect(wdAt(w, 5, 10)).to.equal(0);
    expect(wdAt(WdSchedule.parse({ kind: 'constant', value: 0.05 }), 9, 10)).to.equal(0.05);
  });
});
