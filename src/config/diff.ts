// What a new configuration changes, and which of those changes a running
// agent can take. Inputs are matched by name (the name is an input's
// identity across reloads); a section that cannot change while running
// (the HTTP listener, where checkpoints live, how files are read, the
// memory budget, the Kubernetes source) keeps its running value and is
// reported as needing a restart.

import { isDeepStrictEqual } from 'node:util';
import type { Config, InputConfig } from './config.ts';

/** Top-level sections a running agent applies at once. */
const RELOADABLE = new Set<keyof Config>(['kafka', 'inputs', 'logLevel', 'shutdown', 'discovery', 'config']);

export interface ConfigDiff {
  /** Dotted keys whose value differs (inputs by name: inputs.<name>). */
  readonly changed: string[];
  /** Changed keys that need a restart; their running values are kept. */
  readonly restartRequired: string[];
  readonly kafkaChanged: boolean;
  readonly inputsAdded: string[];
  readonly inputsRemoved: string[];
  /** Inputs whose paths, excludes, topic or startAt changed. */
  readonly inputsChanged: string[];
  /** The order of inputs changed (it decides which input owns a file matched by several). */
  readonly inputsReordered: boolean;
}

export function diffConfig(prev: Config, next: Config): ConfigDiff {
  const changed: string[] = [];
  const restartRequired: string[] = [];
  for (const section of Object.keys(next) as Array<keyof Config>) {
    if (section === 'inputs') continue;
    for (const key of changedLeaves(prev[section], next[section], section)) {
      changed.push(key);
      if (!RELOADABLE.has(section)) restartRequired.push(key);
    }
  }
  const before = new Map(prev.inputs.map((i) => [i.name, i]));
  const after = new Map(next.inputs.map((i) => [i.name, i]));
  const inputsAdded = next.inputs.filter((i) => !before.has(i.name)).map((i) => i.name);
  const inputsRemoved = prev.inputs.filter((i) => !after.has(i.name)).map((i) => i.name);
  const inputsChanged = next.inputs
    .filter((i) => before.has(i.name) && !sameInput(before.get(i.name) as InputConfig, i))
    .map((i) => i.name);
  const kept = (list: readonly InputConfig[]): string[] => list.filter((i) => before.has(i.name) && after.has(i.name)).map((i) => i.name);
  const inputsReordered = !isDeepStrictEqual(kept(prev.inputs), kept(next.inputs));
  for (const name of [...inputsAdded, ...inputsRemoved, ...inputsChanged]) changed.push(`inputs.${name}`);
  return {
    changed,
    restartRequired,
    kafkaChanged: !isDeepStrictEqual(prev.kafka, next.kafka),
    inputsAdded,
    inputsRemoved,
    inputsChanged,
    inputsReordered,
  };
}

/** `next` with the running values of every section that needs a restart to change. */
export function keepRestartOnly(prev: Config, next: Config): Config {
  const merged: Record<string, unknown> = { ...next };
  for (const section of Object.keys(next) as Array<keyof Config>) {
    if (!RELOADABLE.has(section)) merged[section] = prev[section];
  }
  return Object.freeze(merged) as unknown as Config;
}

function sameInput(a: InputConfig, b: InputConfig): boolean {
  return isDeepStrictEqual({ ...a }, { ...b });
}

function changedLeaves(a: unknown, b: unknown, prefix: string): string[] {
  if (isDeepStrictEqual(a, b)) return [];
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) || Array.isArray(b)) return [prefix];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) => changedLeaves((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${prefix}.${k}`));
}
