import { createInterface } from 'node:readline';
import type { CommandModule } from 'yargs';
import { intOption, pathPositional, stringOption } from '../flags.ts';
import { loadEngine } from '../../infer/engine.ts';
import { ChatSession } from '../../infer/chat.ts';
import { engineFlags, engineNotes, engineOptions, rate, samplingFlags, samplingOptions, type EngineArgs, type SamplingArgs } from './generate.ts';

interface Args extends EngineArgs, SamplingArgs {
  file: string;
  system?: string;
  'max-tokens': number;
  ctx: number;
}

/**
 * The loop: a line of stdin is a user turn, the reply streams to stdout, a line of figures to stderr.
 * Ctrl-C during a reply stops the reply; at the prompt it clears a half-typed line, and a second one
 * (or EOF) ends the chat. A piped stdin works the same, one turn per line, without the "> " prompt.
 */
export const chatCommand: CommandModule<object, Args> = {
  command: 'chat <file>',
  describe: "chat with an instruction-tuned GGUF model through its chat template: one line per turn, the reply streamed, Ctrl-C stops it (twice, or EOF, exits)",
  builder: (y) =>
    engineFlags(
      samplingFlags(
        y
          .positional('file', pathPositional('file', 'the .gguf file (with tokenizer.chat_template)'))
          .option('system', stringOption('system', { describe: 'a system message to start the conversation with' }))
          .option('max-tokens', intOption('max-tokens', { default: 512, min: 0, max: 1e9, describe: 'tokens per reply at most' }))
          .option('ctx', intOption('ctx', { default: 4096, min: 16, max: 1 << 24, describe: "KV cache positions: the conversation's length at most (capped at the model's context)" })),
      ),
    ),
  handler: async (argv) => {
    const { sampler, seed } = samplingOptions(argv);
    const e = loadEngine(argv.file, { ...engineOptions(argv), maxSeq: argv.ctx });
    const tty = process.stdin.isTTY === true;
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: tty });
    let replying = false;
    let interrupted = false;
    let armed = false; // a Ctrl-C at the prompt was pressed once
    const onInterrupt = () => {
      if (replying) interrupted = true;
      else if (tty && rl.line.length > 0) {
        rl.write(null, { ctrl: true, name: 'u' }); // clear the half-typed line
        armed = false;
      } else if (armed) rl.close();
      else {
        armed = true;
        process.stdout.write('\n(Ctrl-C again or Ctrl-D to exit)\n');
        if (tty) rl.prompt();
      }
    };
    rl.on('SIGINT', onInterrupt); // a terminal's Ctrl-C, as readline reads it in raw mode
    process.on('SIGINT', onInterrupt); // a signal from elsewhere (or Ctrl-C when stdin is a pipe)
    try {
      engineNotes(e);
      const chat = new ChatSession(e.model, e.tokenizer, { source: argv.file, system: argv.system, maxTokens: argv['max-tokens'], sampler, seed });
      rl.setPrompt('> ');
      if (tty) rl.prompt();
      for await (const line of rl) {
        armed = false;
        if (line.trim() === '') {
          if (tty) rl.prompt();
          continue;
        }
        replying = true;
        interrupted = false;
        const r = await chat.turn(line, { onText: (s) => process.stdout.write(s), interrupted: () => interrupted }).finally(() => (replying = false));
        process.stdout.write('\n');
        process.stderr.write(
          `[${r.ids.length} tokens at ${rate(r.ids.length, r.genSeconds)} tokens/s; prompt ${r.promptTokens} tokens: ` +
            `${r.reusedTokens} from the cache, ${r.prefilledTokens} prefilled at ${rate(r.prefilledTokens, r.promptSeconds)} tokens/s; stop: ${r.stop}]\n`,
        );
        if (tty) rl.prompt();
      }
      process.stderr.write(`(${e.kernels.name} engine, ${e.threads} thread${e.threads === 1 ? '' : 's'}; seed ${seed})\n`);
    } finally {
      process.off('SIGINT', onInterrupt);
      rl.close();
      e.close();
    }
  },
};
