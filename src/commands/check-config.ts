// `logagent check-config`: validate and print the effective configuration.
// No key holds a secret yet; the issue that adds credentials adds their
// redaction here and in config error messages.

import { configFromArgs, parseConfigArgs } from './options.ts';

export async function checkConfigCommand(args: string[]): Promise<number> {
  const { values } = parseConfigArgs(args);
  process.stdout.write(`${JSON.stringify(configFromArgs(values), null, 2)}\n`);
  return 0;
}
