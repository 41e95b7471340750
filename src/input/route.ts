// Where an input's lines go and how they are shaped: the topic, the key,
// static headers, the record format and multiline events. Built once per
// input configuration and shared by the readers of the input's files; a
// reload builds a new one, and each reader takes it from its next read on.

import type { InputConfig } from '../config/config.ts';
import type { StaticHeaders } from '../sink/line-batch.ts';
import type { MultilineConfig } from './multiline.ts';
import { fileKey, podMetadataFromEnv, RecordFormatter, type PodMetadata } from './record-format.ts';

export interface Route {
  readonly input: string;
  readonly topic: string;
  /** path, none, pod or field:<name>. */
  readonly key: string;
  readonly headers: StaticHeaders | undefined;
  readonly formatter: RecordFormatter;
  readonly multiline: (MultilineConfig & { readonly timeoutMs: number }) | undefined;
  readonly meta: PodMetadata;
}

export function buildRoute(input: InputConfig, env: NodeJS.ProcessEnv = process.env): Route {
  const meta = podMetadataFromEnv(env, input.container);
  const headers = Object.entries(input.headers).map(([name, value]) => [name, Buffer.from(value)] as const);
  return {
    input: input.name,
    topic: input.topic,
    key: input.key,
    headers: headers.length > 0 ? headers : undefined,
    formatter: new RecordFormatter(
      { format: input.format, parse: input.parse, parsedField: input.parsedField, key: input.key, fields: input.fields },
      meta,
    ),
    multiline: input.multiline.start
      ? {
          start: new RegExp(input.multiline.start, 'u'),
          maxLines: input.multiline.maxLines,
          maxBytes: input.multiline.maxBytes,
          timeoutMs: input.multiline.timeoutMs,
        }
      : undefined,
    meta,
  };
}

/** The key of every record of a file on this route, when it does not depend on the line. */
export function routeFileKey(route: Route, path: string): string | null | undefined {
  return fileKey(route.key, path, route.meta);
}

/** A route with nothing but a topic (tests of the reading logic). */
export function plainRoute(input: string, topic: string): Route {
  return buildRoute(
    {
      name: input,
      topic,
      paths: [],
      exclude: [],
      startAt: 'beginning',
      format: 'raw',
      parse: 'none',
      parsedField: 'json',
      key: 'path',
      container: '',
      fields: {},
      headers: {},
      multiline: { start: '', maxLines: 500, maxBytes: 1_000_000, timeoutMs: 1_000 },
    },
    {},
  );
}
