import type { CommandModule } from 'yargs';
import { pathPositional } from '../flags.ts';
import { ggufTotals, openGGUF, type GGUFArray, type GGUFTotals, type GGUFValue } from '../../format/gguf/index.ts';

/** Arrays longer than this print as a count and their first few items. */
const FULL_ARRAY_MAX = 8;
const HEAD_ITEMS = 3;
const STRING_MAX = 80;

function showString(s: string): string {
  const j = JSON.stringify(s);
  return j.length > STRING_MAX ? `${j.slice(0, STRING_MAX - 4)}..."` : j;
}

function showItem(v: unknown): string {
  if (typeof v === 'string') return showString(v);
  if (v && typeof v === 'object' && 'elemType' in v) return showArray(v as GGUFArray);
  return String(v);
}

/** `[1, 2, 3]` or `[4096 strings: "a", "b", "c", ...]`. */
function showArray(a: GGUFArray): string {
  const n = a.items.length;
  if (n <= FULL_ARRAY_MAX) return `[${Array.from(a.items as ArrayLike<unknown>, showItem).join(', ')}]`;
  const head = Array.from({ length: HEAD_ITEMS }, (_, i) => showItem(a.items[i]));
  const kind = a.elemType === 'string' ? 'strings' : a.elemType === 'array' ? 'arrays' : `${a.elemType} values`;
  return `[${n} ${kind}: ${head.join(', ')}, ...]`;
}

function showValue(v: GGUFValue): string {
  if (v.type === 'array') return showArray(v.value);
  if (v.type === 'string') return showString(v.value);
  return String(v.value);
}

/** JSON form of a value: bigints as numbers when safe (else strings), long arrays as count + head. */
function jsonItem(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v && typeof v === 'object' && 'elemType' in v) return jsonArray(v as GGUFArray);
  return v;
}

function jsonArray(a: GGUFArray): unknown {
  const items = Array.from(a.items as ArrayLike<unknown>);
  if (items.length <= FULL_ARRAY_MAX) return items.map(jsonItem);
  return { elem_type: a.elemType, count: items.length, head: items.slice(0, HEAD_ITEMS).map(jsonItem) };
}

function showTotals(label: string, t: GGUFTotals): string {
  if (t.tensors === 0) return `${label}: none`;
  return `${label}: ${t.tensors} tensors, ${t.elements.toLocaleString('en-US')} weights, ${t.bytes.toLocaleString('en-US')} bytes, ${t.bitsPerWeight.toFixed(4)} bits per weight`;
}

/** Columns padded to their widest cell; the last one right-aligned when `rightLast` (numbers). */
function table(rows: string[][], rightLast = false): string[] {
  if (rows.length === 0) return [];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const last = rows[0]!.length - 1;
  return rows.map((r) => r.map((cell, c) => (c === last && rightLast ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

export const inspectCommand: CommandModule<object, { file: string; json?: boolean }> = {
  command: 'inspect <file>',
  describe: 'a GGUF file: version, metadata, tensor table (name, type, ne, bytes), bits per weight',
  builder: (y) =>
    y
      .positional('file', pathPositional('file', 'the .gguf file'))
      .option('json', { type: 'boolean', describe: 'print one JSON object' }),
  handler: (argv) => {
    const f = openGGUF(argv.file);
    try {
      const totals = ggufTotals(f.tensors);
      if (argv.json) {
        console.log(JSON.stringify({
          file: argv.file,
          version: f.version,
          alignment: f.alignment,
          data_offset: f.dataOffset,
          file_size: f.fileSize,
          metadata: Object.fromEntries([...f.kv].map(([k, v]) => [k, { type: v.type, value: jsonItem(v.value) }])),
          shape_order: 'ne (ggml order: ne0 = row length; a PyTorch (out, in) matrix is [in, out])',
          tensors: f.tensors.map((t) => ({ name: t.name, type: t.typeName, ne: t.ne, bytes: t.byteLength, offset: t.offset })),
          totals: {
            all: { tensors: totals.all.tensors, elements: totals.all.elements, bytes: totals.all.bytes, bits_per_weight: totals.all.bitsPerWeight },
            ternary: { tensors: totals.ternary.tensors, elements: totals.ternary.elements, bytes: totals.ternary.bytes, bits_per_weight: totals.ternary.bitsPerWeight },
          },
        }));
        return;
      }
      console.log(`${argv.file}: GGUF v${f.version}, alignment ${f.alignment}, ${f.kv.size} metadata keys, ${f.tensors.length} tensors, data at byte ${f.dataOffset}, ${f.fileSize.toLocaleString('en-US')} bytes`);
      console.log('\nmetadata:');
      for (const line of table([...f.kv].map(([k, v]) => [`  ${k}`, v.type === 'array' ? `${v.value.elemType}[]` : v.type, showValue(v)]))) console.log(line);
      console.log('\ntensors (shape in ne order: ne0 = row length; a PyTorch (out, in) matrix shows as [in, out]):');
      const rows = [['  name', 'type', 'ne', 'bytes'], ...f.tensors.map((t) => [`  ${t.name}`, t.typeName, `[${t.ne.join(', ')}]`, String(t.byteLength)])];
      for (const line of table(rows, true)) console.log(line);
      console.log('');
      console.log(showTotals('all tensors', totals.all));
      console.log(showTotals('ternary linears (TQ1_0/TQ2_0)', totals.ternary));
    } finally {
      f.close();
    }
  },
};
