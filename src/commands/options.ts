// Options shared by the commands that read the configuration.

import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import { loadConfigDetailed, readConfigSource, type LoadResult } from '../config/load.ts';

export function parseConfigArgs<const Extra extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], extra?: Extra) {
  const options = { config: { type: 'string' as const }, ...(extra ?? ({} as Extra)) };
  return parseArgs({ args, options, strict: true, allowPositionals: false });
}

/** --config, else LOGAGENT_CONFIG: a file, or a directory holding config.yaml or config.json (a mounted ConfigMap). */
export function configPathFromArgs(values: { config?: string | boolean | undefined }): string | undefined {
  return typeof values.config === 'string' ? values.config : process.env.LOGAGENT_CONFIG;
}

export interface LoadedConfig extends LoadResult {
  readonly path: string | undefined;
  readonly text: string | undefined;
}

/** `kafkaOnly`: a command that needs only the `kafka` section (consume) does not require inputs. */
export function loadFromArgs(values: { config?: string | boolean | undefined }, options: { kafkaOnly?: boolean } = {}): LoadedConfig {
  const path = configPathFromArgs(values);
  const source = path === undefined ? undefined : readConfigSource(path);
  return { ...loadConfigDetailed({ env: process.env, source, kafkaOnly: options.kafkaOnly ?? false }), path, text: source?.text };
}

export function configFromArgs(values: { config?: string | boolean | undefined }): Config {
  return loadFromArgs(values).config;
}
