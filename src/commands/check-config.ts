// `logagent check-config`: validate and print the effective configuration
// (defaults < file < environment), and name every key the environment
// overrides. No key holds a secret yet; the issue that adds credentials
// adds their redaction here and in configuration error messages.

import { loadFromArgs, parseConfigArgs } from './options.ts';

export async function checkConfigCommand(args: string[]): Promise<number> {
  const { values } = parseConfigArgs(args);
  const loaded = loadFromArgs(values);
  for (const { key, env } of loaded.overrides) {
    process.stderr.write(`logagent: ${key} is set in ${loaded.origin ?? 'the configuration'} and overridden by the environment (${env})\n`);
  }
  process.stdout.write(`${JSON.stringify(loaded.config, null, 2)}\n`);
  return 0;
}
