import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { escapeBytes, fileKey, podMetadataFromEnv, RecordFormatter, type RecordFormatConfig } from '../../../src/input/record-format.ts';

const meta = podMetadataFromEnv({ POD_NAME: 'web-7d9f', POD_NAMESPACE: 'shop', NODE_NAME: 'node-1', POD_UID: 'u-1' }, 'web');
const json: RecordFormatConfig = { format: 'json', parse: 'none', parsedField: 'json', key: 'path', fields: { team: 'checkout' } };

test('the JSON envelope carries the line, read time, path, offset, pod metadata and static fields, typed', () => {
  const out = new RecordFormatter(json, meta).encode(Buffer.from('GET / 200'), '/var/log/app/access.log', 1234, Date.UTC(2026, 11, 2, 10));
  assert.deepEqual(JSON.parse(out.value.toString()), {
    '@timestamp': '2026-12-02T10:00:00.000Z',
    message: 'GET / 200',
    log: { file: { path: '/var/log/app/access.log', offset: 1234 } },
    kubernetes: { pod: { name: 'web-7d9f', uid: 'u-1' }, namespace: 'shop', node: { name: 'node-1' }, container: { name: 'web' } },
    fields: { team: 'checkout' },
  });
  assert.equal(out.key, undefined, 'the per-file key applies');
});

test('parse: json merges a JSON line under its own field, never over ours; a line that is not an object stays a string and is counted', () => {
  const f = new RecordFormatter({ ...json, parse: 'json', parsedField: 'app' }, meta);
  const parsed = JSON.parse(f.encode(Buffer.from('{"message":"theirs","level":"warn","n":3}'), '/p', 0, 0).value.toString());
  assert.equal(parsed.message, '{"message":"theirs","level":"warn","n":3}', 'our message field is the raw line');
  assert.deepEqual(parsed.app, { message: 'theirs', level: 'warn', n: 3 });
  const plain = f.encode(Buffer.from('not json'), '/p', 0, 0);
  assert.equal(plain.parseFailed, true);
  assert.equal(JSON.parse(plain.value.toString()).app, undefined);
  assert.equal(f.encode(Buffer.from('[1,2]'), '/p', 0, 0).parseFailed, true, 'an array is not an object');
});

test('bytes that are not valid UTF-8 are escaped, never dropped, and flagged', () => {
  const out = new RecordFormatter(json, meta).encode(Buffer.from([0x61, 0xff, 0x5c, 0xc3, 0xa9, 0x00]), '/p', 0, 0);
  const doc = JSON.parse(out.value.toString());
  assert.equal(out.escaped, true);
  assert.equal(doc.message_escaped, true);
  assert.equal(doc.message, 'a\\xff\\\\é\u0000');
});

/** The inverse of escapeBytes: what a consumer does with message_escaped. */
function unescape(s: string): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < s.length;) {
    if (s[i] === '\\' && s[i + 1] === 'x') {
      out.push(Buffer.from([Number.parseInt(s.slice(i + 2, i + 4), 16)]));
      i += 4;
    } else if (s[i] === '\\' && s[i + 1] === '\\') {
      out.push(Buffer.from('\\'));
      i += 2;
    } else {
      const cp = s.codePointAt(i) as number;
      const ch = String.fromCodePoint(cp);
      out.push(Buffer.from(ch, 'utf8'));
      i += ch.length;
    }
  }
  return Buffer.concat(out);
}

test('property: escaping keeps every byte: unescaping gives the original bytes back', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      assert.deepEqual(unescape(escapeBytes(Buffer.from(bytes))), Buffer.from(bytes));
    }),
    { numRuns: 2_000 },
  );
});

test('keys: path, none, pod, or a field of the parsed line', () => {
  assert.equal(fileKey('path', '/a.log', meta), '/a.log');
  assert.equal(fileKey('none', '/a.log', meta), null);
  assert.equal(fileKey('pod', '/a.log', meta), 'web-7d9f');
  assert.equal(fileKey('field:user', '/a.log', meta), undefined);
  const f = new RecordFormatter({ ...json, format: 'raw', parse: 'json', key: 'field:user' }, meta);
  assert.equal(f.encode(Buffer.from('{"user":"ann"}'), '/p', 0, 0).key, 'ann');
  assert.equal(f.encode(Buffer.from('{"user":7}'), '/p', 0, 0).key, '7');
  assert.equal(f.encode(Buffer.from('no json'), '/p', 0, 0).key, null);
  assert.equal(f.encode(Buffer.from('{"user":"ann"}'), '/p', 0, 0).value.toString(), '{"user":"ann"}', 'raw stays raw');
});
