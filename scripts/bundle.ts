// Bundles the agent for the container image: `npm run bundle` (or
// `node scripts/bundle.ts [--outdir DIR]`) writes a self-contained app
// directory, dist-bundle/ by default:
//
//   cli.js, chunk-*.js     ESM, code-split: each command (and anything else
//                          behind an `await import()`, such as the Kubernetes
//                          client) is its own chunk, loaded only when used
//   *.js.map               source maps (the image runs node with
//                          --enable-source-maps: stack traces name src/ files)
//   package.json           {"type": "module"} and nothing else
//   node_modules/<pkg>     the packages that must stay real files on disk (below)
//   THIRD-PARTY-NOTICES    name, version, license and license text of every
//                          package bundled or shipped
//
// What stays a real package (RUNTIME_PACKAGES): whatever src/ loads through a
// createRequire()'d `require`. esbuild bundles only the global `require` and
// `import`; a require made by createRequire() is an ordinary function call
// it leaves alone, so those packages must be on disk next to the bundle.
// kafkajs has to be anyway: src/sink/kafkajs.ts replaces two of its internal
// modules through require.cache, keyed by require.resolve('kafkajs/src/...')
// paths, which only exist for a real package. snappyjs and lz4js are loaded
// the same way. None of them has dependencies of its own (checked below), so
// copying their directories is the whole install.
//
// The build fails when the output calls a createRequire()'d require with a
// package that is not in RUNTIME_PACKAGES (a new one added in src/ is then
// noticed here, not in production), and when `node cli.js --help` and a load
// of every chunk fail in the output directory itself.
//
// The npm package and the tests keep using tsc's dist/; only the image runs
// this bundle.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build, type Metafile } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Packages loaded through createRequire() in src/: shipped as directories, not bundled. */
const RUNTIME_PACKAGES = ['kafkajs', 'snappyjs', 'lz4js'] as const;

const { values: opts } = parseArgs({
  options: { outdir: { type: 'string', default: join(ROOT, 'dist-bundle') }, quiet: { type: 'boolean', default: false } },
});
const outdir = resolve(opts.outdir);
const say = (msg: string): void => {
  if (!opts.quiet) process.stderr.write(`bundle: ${msg}\n`);
};

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const result = await build({
  absWorkingDir: ROOT,
  entryPoints: ['src/cli.ts'],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  // Whitespace and syntax only, identifiers kept: measured with the
  // Kubernetes client in the bundle, 18.4 MB unminified, 7.0 MB this way,
  // 4.6 MB fully minified (gzip 1.8 / 1.2 / 1.3 MB). Names stay readable in
  // a stack trace even without the maps; keepNames also keeps the names the
  // bundler renames on collisions (error and class names in logs).
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none',
  chunkNames: 'chunk-[hash]',
  external: [...RUNTIME_PACKAGES, ...RUNTIME_PACKAGES.map((p) => `${p}/*`)],
  // CommonJS dependencies (pino, convict, ...) call require() for Node's
  // built-ins; in an ES module there is no global require, so every chunk
  // gets one (esbuild's own __require shim falls back to it).
  banner: {
    js: "import { createRequire as __logagentCreateRequire } from 'node:module';\nconst require = __logagentCreateRequire(import.meta.url);",
  },
  metafile: true,
  logLevel: 'warning',
});

writeFileSync(join(outdir, 'package.json'), `${JSON.stringify({ type: 'module', private: true }, null, 2)}\n`);

// Source maps earn their place for our code (stack traces name src/ lines);
// a chunk of third-party code only (the Kubernetes client: 3.8 MB of map)
// ships without one.
for (const [out, meta] of Object.entries(result.metafile.outputs)) {
  if (!out.endsWith('.js') || Object.keys(meta.inputs).some((input) => input.startsWith('src/'))) continue;
  const js = join(ROOT, out);
  rmSync(`${js}.map`, { force: true });
  writeFileSync(js, readFileSync(js, 'utf8').replace(/\n\/\/# sourceMappingURL=[^\n]*\n?$/, '\n'));
}

// Ship the runtime packages as they are installed.
for (const name of RUNTIME_PACKAGES) {
  const dir = join(ROOT, 'node_modules', name);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const deps = Object.keys(pkg.dependencies ?? {});
  if (deps.length > 0) throw new Error(`${name} has dependencies (${deps.join(', ')}): copying its directory is not enough`);
  cpSync(dir, join(outdir, 'node_modules', name), {
    recursive: true,
    // Type definitions, tests and docs are not needed at run time (only
    // top-level folders of those names: a package's own code may use them).
    filter: (src) => {
      const rel = relative(dir, src);
      return !/\.(d\.ts|md|markdown|map)$/i.test(rel) && !/^(test|tests|__tests__|types|docs?)$/i.test(rel);
    },
  });
}

checkRuntimeRequires(result.metafile);
writeNotices(result.metafile);
smokeTest();

const files = walk(outdir);
const jsBytes = files.filter((f) => f.endsWith('.js') && !f.includes(`${sep}node_modules${sep}`)).reduce((n, f) => n + statSync(f).size, 0);
const allBytes = files.reduce((n, f) => n + statSync(f).size, 0);
say(
  `${relative(ROOT, outdir) || outdir}: ${(jsBytes / 1024).toFixed(0)} KiB of bundled JavaScript, ${(allBytes / 1024).toFixed(0)} KiB in all`,
);

/**
 * Every `require("x")` / `require.resolve("x/...")` of a createRequire()'d
 * require left in the output must name a shipped package or a built-in.
 * esbuild's own `__require("x")` of a package it could not resolve is only
 * reported: dependencies do that for optional packages inside try/catch
 * (ws: bufferutil, utf-8-validate; debug: supports-color).
 */
function checkRuntimeRequires(meta: Metafile): void {
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
  const shipped = new Set<string>(RUNTIME_PACKAGES);
  const problems: string[] = [];
  const optional = new Set<string>();
  for (const file of Object.keys(meta.outputs)) {
    if (!file.endsWith('.js')) continue;
    const text = readFileSync(resolve(ROOT, file), 'utf8');
    for (const m of text.matchAll(/(?<![\w$])(__)?require\d*(?:\.resolve)?\(\s*["']([^"'./][^"']*)["']\s*\)/g)) {
      const spec = m[2] ?? '';
      const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec);
      if (builtins.has(spec) || builtins.has(pkg) || shipped.has(pkg)) continue;
      if (m[1]) optional.add(spec);
      else problems.push(`${relative(ROOT, resolve(ROOT, file))}: require("${spec}")`);
    }
  }
  if (optional.size > 0)
    say(`left unresolved by esbuild (optional, required inside try/catch by dependencies): ${[...optional].sort().join(', ')}`);
  if (problems.length > 0) {
    throw new Error(
      `the bundle requires packages at run time that are neither bundled nor shipped; ` +
        `add them to RUNTIME_PACKAGES in scripts/bundle.ts or import them:\n  ${problems.join('\n  ')}`,
    );
  }
}

/** THIRD-PARTY-NOTICES: the license of every package whose code is in the bundle or shipped beside it. */
function writeNotices(meta: Metafile): void {
  const roots = new Set<string>();
  for (const input of Object.keys(meta.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m?.[1]) roots.add(resolve(ROOT, m[1]));
  }
  for (const name of RUNTIME_PACKAGES) roots.add(join(ROOT, 'node_modules', name));
  const sections: string[] = [];
  for (const root of [...roots].sort()) {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
    const licenseFile = readdirSync(root).find((f) => /^(licen[cs]e|copying)/i.test(f));
    const text = licenseFile
      ? readFileSync(join(root, licenseFile), 'utf8').trim()
      : `(no license file; package.json says ${pkg.license ?? 'nothing'})`;
    sections.push(`${pkg.name}@${pkg.version} (${pkg.license ?? 'unknown'})\n\n${text}\n`);
  }
  writeFileSync(
    join(outdir, 'THIRD-PARTY-NOTICES'),
    `Third-party software in this directory (bundled into the .js files or shipped under node_modules/):\n\n${sections.join(`\n${'-'.repeat(72)}\n\n`)}`,
  );
}

/** The output runs from its own directory: --help through the entry, and every chunk loads. */
function smokeTest(): void {
  const help = execFileSync(process.execPath, [join(outdir, 'cli.js'), '--help'], { cwd: outdir, encoding: 'utf8' });
  if (!help.includes('usage: logagent')) throw new Error(`bundle smoke test: unexpected --help output:\n${help}`);
  const chunks = readdirSync(outdir).filter((f) => f.endsWith('.js') && f !== 'cli.js');
  const script = `for (const f of ${JSON.stringify(chunks.map((c) => pathToFileURL(join(outdir, c)).href))}) await import(f);`;
  execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: outdir, stdio: ['ignore', 'ignore', 'inherit'] });
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}
