import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerConnection } from '../../../../src/sink/native/connection.ts';
import { oauthBearerMessage, plainMessage, saslAuthenticator, ScramClient } from '../../../../src/sink/native/sasl.ts';

test('SCRAM-SHA-256 produces the RFC 7677 exchange and accepts only the server’s true signature', () => {
  const scram = new ScramClient('sha256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
  assert.equal(scram.firstMessage(), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
  assert.equal(
    scram.finalMessage('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'),
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  );
  assert.equal(scram.verifyServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), true);
  assert.equal(scram.verifyServerFinal('v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), false);
  assert.throws(() => new ScramClient('sha256', 'u', 'p', 'abc').finalMessage('r=OTHER,s=AA==,i=1'), /malformed/);
});

test('PLAIN and OAUTHBEARER messages follow RFC 4616 and RFC 7628', () => {
  assert.deepEqual(plainMessage('alice', 's3cret'), Buffer.from('\0alice\0s3cret'));
  assert.equal(oauthBearerMessage('tok').toString(), 'n,,\x01auth=Bearer tok\x01\x01');
});

/** A connection answering SaslHandshake and SaslAuthenticate as scripted. */
function fakeConnection(answers: Array<{ errorCode: number; errorMessage?: string | null; authBytes?: Buffer; mechanisms?: string[] }>) {
  const sent: Array<{ api: string; req: unknown }> = [];
  const c = {
    request: (api: { name: string }, req: unknown) => {
      sent.push({ api: api.name, req });
      const a = answers.shift() ?? { errorCode: 0 };
      return Promise.resolve({ errorMessage: null, authBytes: Buffer.alloc(0), mechanisms: [], sessionLifetimeMs: 0, ...a });
    },
  };
  return { connection: c as unknown as BrokerConnection, sent };
}

test('a connection authenticates with PLAIN after the handshake names the mechanism', async () => {
  const { connection, sent } = fakeConnection([{ errorCode: 0, mechanisms: ['PLAIN'] }, { errorCode: 0 }]);
  await saslAuthenticator({ mechanism: 'PLAIN', username: 'alice', password: 's3cret' })(connection);
  assert.deepEqual(
    sent.map((s) => s.api),
    ['SaslHandshake', 'SaslAuthenticate'],
  );
  assert.deepEqual((sent[1]?.req as { authBytes: Buffer }).authBytes, plainMessage('alice', 's3cret'));
});

test('a refused mechanism or a wrong password is an error naming the mechanism and the user, never the password', async () => {
  const refused = fakeConnection([{ errorCode: 33, mechanisms: ['SCRAM-SHA-512'] }]);
  await assert.rejects(
    saslAuthenticator({ mechanism: 'PLAIN', username: 'alice', password: 's3cret' })(refused.connection),
    (err: Error) => {
      assert.match(
        err.message,
        /SASL PLAIN authentication of user "alice" failed: UNSUPPORTED_SASL_MECHANISM \(the broker offers SCRAM-SHA-512\)/,
      );
      assert.doesNotMatch(err.message, /s3cret/);
      return true;
    },
  );
  const wrong = fakeConnection([{ errorCode: 0 }, { errorCode: 58, errorMessage: 'Authentication failed: Invalid username or password' }]);
  await assert.rejects(saslAuthenticator({ mechanism: 'PLAIN', username: 'alice', password: 's3cret' })(wrong.connection), (err: Error) => {
    assert.match(err.message, /user "alice" failed: Authentication failed/);
    assert.doesNotMatch(err.message, /s3cret/);
    return true;
  });
});

test('SCRAM refuses a server whose final signature is wrong', async () => {
  const { connection } = fakeConnection([
    { errorCode: 0 },
    { errorCode: 0, authBytes: Buffer.from('r=NONCE-and-server,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096') },
    { errorCode: 0, authBytes: Buffer.from('v=AAAA') },
  ]);
  // The client nonce is random: make the server echo it.
  const real = connection.request.bind(connection);
  let clientNonce = '';
  (connection as unknown as { request: typeof real }).request = ((api: { name: string }, req: { authBytes?: Buffer }) => {
    const text = req.authBytes?.toString() ?? '';
    if (text.startsWith('n,,')) clientNonce = /r=([^,]+)/.exec(text)?.[1] ?? '';
    return real(api as never, req as never).then((res) => {
      const r = res as { authBytes: Buffer };
      return { ...r, authBytes: Buffer.from(r.authBytes.toString().replace('NONCE', clientNonce)) };
    });
  }) as typeof real;
  await assert.rejects(
    saslAuthenticator({ mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' })(connection),
    /server signature does not match/,
  );
});

test('a refused OAUTHBEARER token (a JSON challenge, RFC 7628) is answered with %x01 and reported with its status', async () => {
  const { connection, sent } = fakeConnection([
    { errorCode: 0, mechanisms: ['OAUTHBEARER'] },
    { errorCode: 0, authBytes: Buffer.from('{"status":"invalid_token"}') },
    {
      errorCode: 58,
      errorMessage: 'Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER',
    },
  ]);
  await assert.rejects(saslAuthenticator({ mechanism: 'OAUTHBEARER', token: () => 'the.token.value' })(connection), (err: Error) => {
    assert.match(
      err.message,
      /SASL OAUTHBEARER authentication failed: the broker refused the token \(invalid_token\): Authentication failed/,
    );
    assert.doesNotMatch(err.message, /the\.token\.value/);
    return true;
  });
  assert.deepEqual((sent[2]?.req as { authBytes: Buffer }).authBytes, Buffer.from([0x01]), 'the exchange is finished, not left open');
});

test('an accepted OAUTHBEARER token ends the exchange after one message', async () => {
  const { connection, sent } = fakeConnection([{ errorCode: 0, mechanisms: ['OAUTHBEARER'] }, { errorCode: 0 }]);
  await saslAuthenticator({ mechanism: 'OAUTHBEARER', token: () => 'tok' })(connection);
  assert.equal(sent.length, 2);
});
