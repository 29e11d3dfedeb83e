/**
 * The JS heap of an inference process. Loading a model makes a stream of short-lived views, and
 * once made ~256 K long-lived strings (the vocabulary, now bytes: ../format/gguf/strings.ts); V8
 * reads survivors as a sign that the young generation is too small and doubles it, up to two 16 MB
 * semi-spaces, which then stay resident for the rest of the process: ~30 MB of RSS at the 2B4T shape
 * while the vocabulary was strings (new space 33.6 MB after load, 4.2 MB with growth held); ~2 MB
 * since (4.2 MB without the hold, 2.1 MB with it). After load the engine allocates almost nothing on the JS heap, so the small
 * young generation costs nothing there.
 *
 * `--semi-space-growth-factor` is read each time V8 grows the young generation, so setting it at run
 * time takes effect (unlike --max-semi-space-size, fixed when the heap is made). It is set only by
 * processes that load an engine: the trainer's tfjs allocates per op and wants the larger young
 * generation, and a study's training runs in its own process (src/ablate/run-process.ts).
 */
import v8 from 'node:v8';

let held = false;

/** Keeps the young generation at its current size from now on (idempotent). */
export function holdYoungGeneration(): void {
  if (held) return;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  held = true;
}
