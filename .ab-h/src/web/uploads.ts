/**
 * Files dropped on the page: the request body is streamed to a private temporary file (bounded),
 * then sent with `meshwire/files`' `sendFile`, its progress reported to the page.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { MeshwireError, toMeshwireError } from '../errors.js';
import { sendFile } from '../files/send-file.js';
import type { NodeMetrics } from '../metrics/node-metrics.js';
import type { P2PNode } from '../node.js';
import type { DashboardModel } from './dashboard-model.js';

/** Default of {@link DashboardOptions.maxUploadBytes}: 1 GiB. */
export const DEFAULT_MAX_UPLOAD_BYTES = 1024 * 1024 * 1024;

/** Streams `req`'s body into a new temporary file of at most `maxBytes`; returns its path. */
export async function receiveUpload(
  req: IncomingMessage,
  maxBytes: number,
): Promise<{ dir: string; file: string; size: number }> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > maxBytes)
    throw new MeshwireError('ERR_FILE_TOO_LARGE', `upload larger than ${maxBytes} bytes`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-upload-'));
  const file = path.join(dir, 'upload');
  let size = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes)
        done(new MeshwireError('ERR_FILE_TOO_LARGE', `upload larger than ${maxBytes} bytes`));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(req, limit, createWriteStream(file, { mode: 0o600 }));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw toMeshwireError(err, 'ERR_FILE_IO');
  }
  return { dir, file, size };
}

/**
 * Sends an uploaded file to `to` (or every peer) and reports it as a transfer of the model; the
 * temporary copy is removed afterwards. Returns the transfer's ID at once; the outcome reaches
 * the page through the model (this never rejects).
 */
export function sendUpload(
  node: P2PNode,
  model: DashboardModel,
  metrics: NodeMetrics,
  upload: { dir: string; file: string; size: number },
  name: string,
  to: string | undefined,
): string {
  const targets = to ? [to] : node.getPeerInfo().peers.map((p) => p.id);
  const id = model.startOutgoing(name, upload.size, targets);
  let counted = 0;
  void (async () => {
    try {
      const result = await sendFile(node, upload.file, {
        name,
        to: targets,
        onProgress: (p) => {
          metrics.fileBytesSent((p.bytesSent - counted) * targets.length);
          counted = p.bytesSent;
          model.updateTransfer(id, { bytes: p.bytesSent });
        },
      });
      const failed = result.failed.map((f) => `${f.peerId.slice(0, 8)}: ${f.error.code}`);
      const ok = result.sent.length > 0 || targets.length === 0;
      metrics.fileTransferDone('out', ok ? 'ok' : (result.failed[0]?.error.code ?? 'ERR_FILE_IO'));
      model.updateTransfer(id, {
        bytes: upload.size,
        state: ok ? 'done' : 'failed',
        sha256: result.sha256,
        ...(failed.length > 0 ? { error: `failed for ${failed.join(', ')}` } : {}),
      });
    } catch (err) {
      const e = toMeshwireError(err, 'ERR_FILE_IO');
      metrics.fileTransferDone('out', e.code);
      model.updateTransfer(id, { state: 'failed', error: e.code });
    } finally {
      await rm(upload.dir, { recursive: true, force: true });
    }
  })();
  return id;
}
