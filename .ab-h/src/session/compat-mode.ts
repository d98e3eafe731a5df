import type { CodecLimits } from '../codec/codec.js';
import { CompatDecoder, CompatEncoder } from '../codec/compat.js';
import { MeshwireError, toMeshwireError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import { Connection } from './connection.js';
import { compatInbound, compatOutbound, type OpenConnection } from './handshake.js';
import type { SessionMode } from './session-mode.js';

/** The original's plaintext line protocol, over any transport. */
export function compatMode(limits: CodecLimits, transport: Transport): SessionMode {
  const encoder = new CompatEncoder(limits);
  return {
    mode: 'compat',
    init: async () => undefined,
    async connect(target) {
      const raw = await transport.dial({ host: target.host, port: target.port, signal: target.signal });
      const connection = new Connection(
        raw.stream,
        new CompatDecoder('dialer', limits),
        encoder,
        target.limits,
        raw.localHost,
      );
      return { connection, direction: 'outbound', address: target.address, remoteAddress: raw.remoteAddress };
    },
    async accept(raw, connectionLimits) {
      const connection = new Connection(
        raw.stream,
        new CompatDecoder('listener', limits),
        encoder,
        connectionLimits,
        raw.localHost,
      );
      const address = raw.remoteAddress;
      return { connection, direction: 'inbound', address, remoteAddress: address };
    },
    outbound: (ctx, remote) =>
      compatOutbound(ctx, remote).catch((err) => Promise.reject(explainCompatFailure(err, remote))),
    inbound: compatInbound,
    context: (base) => base,
    encode: (frame) => encoder.encode(frame),
  };
}

function explainCompatFailure(err: unknown, remote: OpenConnection): MeshwireError {
  const error = toMeshwireError(err);
  if (error.code === 'ERR_CONNECTION_CLOSED' || error.code === 'ERR_MALFORMED_FRAME') {
    return new MeshwireError(
      'ERR_MODE_MISMATCH',
      `${remote.address} closed the connection during the compat handshake: it is probably a node in secure mode, and this one is in compat mode (both sides must use the same mode)`,
      { cause: error },
    );
  }
  return error;
}
