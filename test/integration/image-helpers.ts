// The LogAgent image as the tests build it: the Dockerfile on the stand-in
// bases of scripts/image/standin-base.sh (nothing can be pulled here), with
// the engine of scripts/docker-local.sh (DOCKER_HOST; scripts/test.sh starts
// it and exports it). Shared by image.test.ts (docker run) and
// k8s-sidecar.test.ts (the same image, `docker save`d into the local node).
// The build runs once per test process (from the repository, or from
// LOGAGENT_IMAGE_BUILD_CONTEXT when set); a second test file rebuilds from
// the engine's layer cache in seconds.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './helpers.ts';

const exec = promisify(execFile);

export const IMAGE = 'logagent-test/logagent:test';
const BUILD_STAGE = 'logagent-test/logagent-build-stage:test';
/** uid and gid the Dockerfile runs the agent as. */
export const AGENT_ID = 10001;

/** The `skip` option of a test that needs the Docker engine: false when DOCKER_HOST is set, else why not. */
export function dockerSkip(): string | false {
  return process.env.DOCKER_HOST
    ? false
    : 'DOCKER_HOST is not set: no Docker engine runs (scripts/test.sh starts one with scripts/docker-local.sh when dockerd is installed; LOGAGENT_TEST_DOCKER=1 installs it)';
}

/** The docker CLI (classic builder); resolves with its trimmed stdout, rejects on a non-zero exit. */
export async function docker(args: string[], timeoutMs = 120_000): Promise<string> {
  const { stdout } = await exec('docker', args, {
    env: { ...process.env, DOCKER_BUILDKIT: '0' },
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout.trim();
}

export interface BuiltImage {
  /** The tag of the LogAgent image (IMAGE). */
  image: string;
  /** The runtime base it was built on (the stand-in for distroless). */
  runtimeBase: string;
}

let built: Promise<BuiltImage> | undefined;

/** Builds the image from the Dockerfile on the stand-in bases, once per process. */
export function buildImage(): Promise<BuiltImage> {
  built ??= build();
  return built;
}

async function build(): Promise<BuiltImage> {
  const bases = await exec('bash', [join(ROOT, 'scripts', 'image', 'standin-base.sh')], { env: process.env, timeout: 600_000 });
  const vars = Object.fromEntries(
    bases.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('=', 2) as [string, string]),
  );
  if (!vars.BUILD_IMAGE || !vars.RUNTIME_IMAGE) throw new Error(`standin-base.sh printed no image names:\n${bases.stdout}${bases.stderr}`);
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const context = process.env.LOGAGENT_IMAGE_BUILD_CONTEXT ?? ROOT;
  const buildArgs = ['--build-arg', `BUILD_IMAGE=${vars.BUILD_IMAGE}`, '--build-arg', `RUNTIME_IMAGE=${vars.RUNTIME_IMAGE}`];
  try {
    // The build stage gets a tag of its own: the cache of its layers (npm ci
    // above all) is then kept by the prune below, which removes only what
    // earlier runs left untagged.
    await docker(['build', '--network=host', ...buildArgs, '--target', 'build', '-t', BUILD_STAGE, context], 900_000);
    await docker(['build', '--network=host', ...buildArgs, '--build-arg', `VERSION=${version}`, '-t', IMAGE, context], 900_000);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`docker build failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, { cause: err });
  }
  await docker(['image', 'prune', '-f']);
  return { image: IMAGE, runtimeBase: vars.RUNTIME_IMAGE };
}

/** `docker save` of an image into a tarball (what `k8s-local.sh import-image` and `ctr images import` take). */
export async function saveImage(image: string, tarball: string): Promise<void> {
  await docker(['save', '-o', tarball, image], 600_000);
}
