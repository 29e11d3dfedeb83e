/**
 * A binary min-heap over numbers with a caller-given order. BPE training and encoding both need "the
 * best pair next" with lazy deletion (stale entries are skipped by the caller when popped), so the
 * heap itself stays a plain array of numbers.
 */
export class Heap {
  private items: number[] = [];

  /** @param before true when `a` must come out before `b`. */
  constructor(private readonly before: (a: number, b: number) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  push(x: number): void {
    const h = this.items;
    let i = h.length;
    h.push(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(x, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = x;
  }

  /** Removes and returns the first item; undefined when empty. */
  pop(): number | undefined {
    const h = this.items;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && this.before(h[r]!, h[l]!) ? r : l;
        if (!this.before(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
