import type { CommandModule } from 'yargs';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { nativeAddon, nativeStatus } from '../../native/addon.ts';
import { resolveBackend, useBackend } from '../../train/backend.ts';
import { ownVersion, versionOf as pkgVersion } from '../../train/versions.ts';

function cpuFlags(): Set<string> {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return new Set();
  }
}


export const infoCommand: CommandModule<object, { json?: boolean }> = {
  command: 'info',
  describe: 'versions, the tfjs backend in use and why, the native addon, CPU features, threads',
  builder: (y) => y.option('json', { type: 'boolean', describe: 'print one JSON object' }),
  handler: async (argv) => {
    const choice = await resolveBackend('auto');
    const inUse = await useBackend('auto');
    const tf = await import('@tensorflow/tfjs-core');
    const ns = nativeStatus();
    const addon = nativeAddon();
    const flags = cpuFlags();
    const cpus = os.cpus();
    const info = {
      bitnet_ts: ownVersion(),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      tfjs: pkgVersion('@tensorflow/tfjs-core'),
      tfjs_backend_wasm: pkgVersion('@tensorflow/tfjs-backend-wasm'),
      tfjs_node: pkgVersion('@tensorflow/tfjs-node'),
      backend: inUse.name,
      backend_why: inUse.name === choice.name ? choice.why : inUse.why,
      backend_checked: tf.getBackend(),
      training_native_matmul: inUse.nativeMatmul ?? false,
      native_addon: ns.loaded ? 'loaded' : 'missing',
      native_reason: ns.reason,
      native_file: ns.file,
      native_cpu: addon ? addon.cpuFeatures() : null,
      native_isa: addon ? addon.isa() : null,
      native_threads: addon ? addon.threads() : null,
      cpu_model: cpus[0]?.model ?? 'unknown',
      cpu_threads: os.availableParallelism(),
      cpu_avx2: flags.has('avx2'),
      cpu_fma: flags.has('fma'),
      cpu_f16c: flags.has('f16c'),
      cpu_avx512f: flags.has('avx512f'),
      memory_gb: +(os.totalmem() / 2 ** 30).toFixed(1),
    };
    if (argv.json) {
      console.log(JSON.stringify(info));
      return;
    }
    console.log(`bitnet-ts ${info.bitnet_ts}  node ${info.node}  ${info.platform}`);
    console.log(`tfjs ${info.tfjs}  wasm ${info.tfjs_backend_wasm}  tfjs-node ${info.tfjs_node}`);
    console.log(`backend: ${info.backend} (checked: ${info.backend_checked}) — ${info.backend_why}`);
    console.log(`training matmuls: ${info.training_native_matmul ? 'native addon (AVX2, multi-threaded)' : `tfjs ${info.backend} kernels`}`);
    console.log(`native addon: ${info.native_addon} — ${info.native_reason}${info.native_threads ? `, ${info.native_threads} threads` : ''}`);
    if (info.native_cpu)
      console.log(`native kernels: ${info.native_isa} (cpu: avx2=${info.native_cpu.avx2} fma=${info.native_cpu.fma} f16c=${info.native_cpu.f16c} avx512vnni=${info.native_cpu.avx512vnni} avx512bf16=${info.native_cpu.avx512bf16})`);
    console.log(`cpu: ${info.cpu_model}, ${info.cpu_threads} threads, AVX2 ${info.cpu_avx2 ? 'yes' : 'no'}, FMA ${info.cpu_fma ? 'yes' : 'no'}, AVX-512 ${info.cpu_avx512f ? 'yes' : 'no'}, ${info.memory_gb} GiB`);
  },
};
