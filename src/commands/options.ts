// Options shared by the commands that read the configuration.

import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import { loadConfig } from '../config/load.ts';

export function parseConfigArgs<const Extra extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], extra?: Extra) {
  const options = { config: { type: 'string' as const }, ...(extra ?? ({} as Extra)) };
  return parseArgs({ args, options, strict: true, allowPositionals: false });
}

export function configFromArgs(values: { config?: string | boolean | undefined }): Config {
  const file = typeof values.config === 'string' ? values.config : process.env.LOGAGENT_CONFIG;
  return loadConfig({ env: process.env, file });
}
