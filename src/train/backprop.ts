/**
 * Reverse-mode gradients of a scalar loss with respect to variables, as tf.variableGrads computes them
 * (tfjs's own tape, the kernels' registered gradients and the customGrad functions, inputs accumulated
 * in the same order with the same adds, so the same bits), but freeing as it goes. tfjs keeps every
 * node's saved tensors and every intermediate gradient until the whole backward pass has ended, so a
 * training step's peak held all the activations the forward saved plus one gradient for each of them
 * (measured on tiny-b158: the peak was at the backward's last kernel). Here a node's saved tensors and
 * the gradients of its outputs are disposed as soon as its gradient has run: the peak falls to about
 * the saved activations at the start of the backward.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A tape node as tfjs-core's engine records it (engine.ts addTapeNode). */
interface TapeNode {
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
}

/** The parts of tfjs-core's engine that its own gradients() uses. */
interface TapeEngine {
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
}

/**
 * The nodes on a path from xs to y, in tape (forward) order, with their inputs cut to those that
 * depend on xs: the only ones a gradient flows to.
 */
function pathNodes(tape: TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const onPathFromX = tape.map((node) => {
    if (!Object.values(node.inputs).some((t) => fromX.has(t.id))) return false;
    for (const o of node.outputs) fromX.add(o.id);
    return true;
  });
  const toY = new Set([y.id]);
  const onPathToY = new Array<boolean>(tape.length).fill(false);
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (!node.outputs.some((o) => toY.has(o.id))) continue;
    onPathToY[i] = true;
    for (const t of Object.values(node.inputs)) toY.add(t.id);
  }
  const out: TapeNode[] = [];
  tape.forEach((node, i) => {
    if (!onPathFromX[i] || !onPathToY[i]) return;
    const inputs = Object.fromEntries(Object.entries(node.inputs).filter(([, t]) => fromX.has(t.id)));
    out.push({ ...node, inputs });
  });
  return out;
}

/** The gradient of y = f() with respect to each variable (by tfjs variable name; none for a variable f does not reach), and y. */
export function variableGradsFreeing(f: () => tf.Scalar, vars: readonly tf.Variable[]): { value: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const engine = tf.engine() as unknown as TapeEngine;
  const y = engine.scopedRun(() => engine.startTape(), () => engine.endTape(), () => tf.tidy('forward', f));
  if (!(y instanceof tf.Tensor) || y.rank !== 0) throw new Error('variableGradsFreeing: f must return a scalar tensor');
  const tape = engine.state.activeTape ?? [];
  const outermost = engine.state.gradientDepth === 0; // not inside another gradient: nothing else reads the tape
  const grads = tf.tidy(() => {
    const acc = new Map<number, tf.Tensor>([[y.id, tf.onesLike(y)]]);
    const wanted = new Set(vars.map((v) => v.id));
    const nodes = pathNodes(tape, vars, y);
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i]!;
      if (!node.gradient) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
      const names = Object.keys(node.inputs);
      const held = new Set<tf.Tensor>([...dys.filter((t): t is tf.Tensor => t !== null), ...(outermost ? node.saved ?? [] : [])]);
      // each input's gradient as its own tensor (a gradient function may hand back its dy or a saved tensor, both freed below)
      const dxs = tf.tidy(() => {
        const fns = node.gradient!(dys);
        return names.map((name) => {
          if (!(name in fns)) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}.`);
          const dx = fns[name]!();
          if (held.has(dx)) return tf.clone(dx);
          held.add(dx);
          return dx;
        });
      });
      names.forEach((name, j) => {
        const x = node.inputs[name]!;
        const dx = dxs[j]!;
        if (dx.dtype !== 'float32') throw new Error(`The gradient of input ${name} of ${node.kernelName} is ${dx.dtype}, not float32.`);
        if (!tf.util.arraysEqual(dx.shape, x.shape)) throw new Error(`The gradient of input ${name} of ${node.kernelName} has shape [${dx.shape}], not [${x.shape}].`);
        const prev = acc.get(x.id);
        if (prev === undefined) acc.set(x.id, dx);
        else {
          acc.set(x.id, tf.add(prev, dx));
          prev.dispose();
          dx.dispose();
        }
      });
      // this node was the last reader of its outputs' gradients and of what it saved
      for (const o of node.outputs) {
        if (wanted.has(o.id)) continue;
        acc.get(o.id)?.dispose();
        acc.delete(o.id);
      }
      if (outermost) for (const t of node.saved ?? []) t.dispose();
    }
    const out: Record<string, tf.Tensor> = {}; // a plain object: what tidy keeps (not a Map)
    for (const v of vars) {
      const g = acc.get(v.id);
      if (g !== undefined) out[v.name] = g;
    }
    return out;
  });
  if (outermost) {
    for (const node of tape) for (const t of node.saved ?? []) t.dispose();
    engine.state.activeTape = null;
  }
  return { value: y, grads: new Map(Object.entries(grads)) };
}
