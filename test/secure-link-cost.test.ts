import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import {
  createIdentity,
  secureContextFor,
  tlsClientOptions,
  tlsServerOptions,
  verifyPeer,
  withoutBufferPool,
  type Identity,
} from '../src/secure/index.js';

const TIMEOUT = 10_000;

let server: Identity;
let client: Identity;
let listener: net.Server;
let port: number;
const accepted: tls.TLSSocket[] = [];

before(
  async () => {
    [server, client] = await Promise.all([createIdentity(), createIdentity()]);
    // The way secure-mode.ts accepts: a TLSSocket made by hand over an accepted TCP socket.
    listener = net.createServer((raw) => {
      const socket = new tls.TLSSocket(raw, { ...tlsServerOptions(server), isServer: true });
      socket.on('error', () => undefined);
      socket.on('secure', () => socket.write('x'));
      accepted.push(socket);
    });
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    port = (listener.address() as AddressInfo).port;
  },
  { timeout: TIMEOUT },
);

after(() => {
  for (const s of accepted) s.destroy();
  listener.close();
});

/** Dials with meshwire's client options (plus `extra`); resolves once the first byte arrived. */
async function dial(
  extra: tls.ConnectionOptions = {},
): Promise<{ socket: tls.TLSSocket; sessions: Buffer[] }> {
  const sessions: Buffer[] = [];
  const socket = tls.connect({ ...tlsClientOptions(client), host: '127.0.0.1', port, ...extra });
  socket.on('session', (s: Buffer) => sessions.push(s));
  await once(socket, 'secureConnect');
  await once(socket, 'data');
  return { socket, sessions };
}

describe('secure link set-up cost (issue 16 part 4)', { timeout: TIMEOUT }, () => {
  test('the context is built once per identity and shared by both directions', () => {
    assert.equal(secureContextFor(server), secureContextFor(server));
    assert.notEqual(secureContextFor(server), secureContextFor(client));
    assert.equal(tlsServerOptions(server).secureContext, tlsClientOptions(server).secureContext);
  });

  test('X25519 is the only key-exchange group, TLS 1.3 only', async () => {
    const { socket } = await dial();
    try {
      assert.equal(socket.getProtocol(), 'TLSv1.3');
      assert.equal((socket.getEphemeralKeyInfo() as { name?: string } | null)?.name, 'X25519');
    } finally {
      socket.destroy();
    }
    // A client that offers only P-256 finds no common group.
    const raw = tls.connect({
      ...tlsClientOptions(client),
      secureContext: undefined,
      host: '127.0.0.1',
      port,
      ecdhCurve: 'P-256',
    });
    const [err] = (await once(raw, 'error')) as [NodeJS.ErrnoException];
    assert.match(String(err.code), /ERR_SSL/);
  });

  test('no session is ever resumed: a saved session still gets a full handshake with the certificate proven', async () => {
    const first = await dial();
    if (first.sessions.length === 0) await once(first.socket, 'session');
    first.socket.destroy();
    // The tickets are stateful (SSL_OP_NO_TICKET): they only name a cache entry that is never
    // stored, so offering one must not resume. A stateless ticket from the shared context would.
    const saved = first.sessions.at(-1);
    assert.ok(saved, 'the client got a session to offer');
    const second = await dial({ session: saved });
    try {
      assert.equal(second.socket.isSessionReused(), false);
      assert.equal(verifyPeer(second.socket, server.id), server.id);
    } finally {
      second.socket.destroy();
    }
  });

  test('sockets are made with the Buffer pool off, so their ALPN buffer pins no 8 KiB slab', () => {
    const before = Buffer.poolSize;
    assert.equal(Buffer.allocUnsafe(11).buffer.byteLength, before, 'pooled outside');
    assert.equal(withoutBufferPool(() => Buffer.allocUnsafe(11)).buffer.byteLength, 11);
    // The ALPN list as Node builds it for a socket (an exact-size allocation inside).
    const socket = withoutBufferPool(() =>
      tls.connect({ ...tlsClientOptions(client), host: '127.0.0.1', port }),
    );
    socket.on('error', () => undefined);
    const alpn = (socket as unknown as { _tlsOptions?: { ALPNProtocols?: Buffer } })._tlsOptions
      ?.ALPNProtocols;
    socket.destroy();
    if (alpn) assert.ok(alpn.buffer.byteLength < 64, `ALPN buffer backed by ${alpn.buffer.byteLength} bytes`);
    assert.throws(() =>
      withoutBufferPool(() => {
        throw new Error('boom');
      }),
    );
    assert.equal(Buffer.poolSize, before, 'restored, also after a throw');
  });
});
