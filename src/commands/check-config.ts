// `logagent check-config`: validate and print the effective configuration.

import { SECRET_KEYS } from '../config/schema.ts';
import { configFromArgs, parseConfigArgs } from './options.ts';

export async function checkConfigCommand(args: string[]): Promise<number> {
  const { values } = parseConfigArgs(args);
  const config = configFromArgs(values);
  const redacted = JSON.parse(JSON.stringify(config), (key: string, value: unknown) =>
    SECRET_KEYS.has(key) && value !== '' ? '<redacted>' : value,
  ) as unknown;
  process.stdout.write(`${JSON.stringify(redacted, null, 2)}\n`);
  return 0;
}
