#!/usr/bin/env -S node --max-semi-space-size=1 --disable-warning=TimeoutNegativeWarning
// Command line entry: `logagent [run] | consume | check-config | checkpoints`.
// Exit codes: 0 success, 1 runtime failure, 2 bad configuration or usage.
//
// The shebang's --max-semi-space-size=1 (MiB of V8 young generation) is
// measured, not folklore: once the hot path stopped allocating per line
// (pooled read buffers and line index, headers written without objects), a
// small young generation costs no CPU and keeps RSS down: 1M access-log
// lines at full speed, 1.9-2.0 CPU s either way, peak RSS 111-116 MiB with
// 1 MiB against 120-127 MiB with 8 MiB; 100 KiB lines 109-117 against
// 131-134 (docs/benchmarks.md). V8 reads it only at start, so it cannot be
// set from inside; the Dockerfile passes it too.
// --disable-warning=TimeoutNegativeWarning: kafkajs schedules negative
// timeouts, which Node >= 24 clamps to 1 ms (what kafkajs relied on) with a
// warning; harmless, and kept out of operators' logs by Node's own switch
// wherever the agent is started (bin, image, tests, scripts).

import { ConfigError, errorMessage, UsageError } from './errors.ts';

const USAGE = `usage: logagent [command] [options]

commands:
  run            tail the configured files and produce every line to Kafka (default)
  consume        print messages of a topic: --topic T [--brokers B] [--from-beginning]
                 [--group G] [--max-messages N] [--timeout-ms T] [--json]
  check-config   validate the configuration and print it
  checkpoints    dry run of a restart: per file, where reading would resume
  config-doc     print the table of configuration keys (markdown)

common options:
  --config FILE  YAML or JSON configuration file; environment variables override it
  -h, --help     this text

Configuration keys and their environment variables: see README.md.`;

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  const command = first === undefined || first.startsWith('-') ? 'run' : first;
  const args = first === command ? argv.slice(1) : argv;
  if (args.includes('-h') || args.includes('--help') || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  switch (command) {
    case 'run':
      return (await import('./commands/run.ts')).runCommand(args);
    case 'consume':
      return (await import('./commands/consume.ts')).consumeCommand(args);
    case 'check-config':
      return (await import('./commands/check-config.ts')).checkConfigCommand(args);
    case 'checkpoints':
      return (await import('./commands/checkpoints.ts')).checkpointsCommand(args);
    case 'config-doc':
      process.stdout.write(`${(await import('./config/doc.ts')).configTableMarkdown()}\n`);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`logagent: ${err.message}\n`);
      process.exitCode = 2;
    } else if (err instanceof UsageError || isParseArgsError(err)) {
      process.stderr.write(`logagent: ${errorMessage(err)}\n\n${USAGE}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`logagent: ${errorMessage(err)}\n`);
      process.exitCode = 1;
    }
  },
);
