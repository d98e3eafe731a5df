/** The `transfers()` listing of a FileShare: downloads in progress, then the files it shares. */
import { performance } from 'node:perf_hooks';
import type { Download } from './download.js';
import type { SharedFile } from './source.js';
import type { TransferInfo } from './types.js';

/** One row per download (with its session's average rate) and per shared file (as complete). */
export function listTransfers(downloads: Iterable<Download>, shares: Iterable<SharedFile>): TransferInfo[] {
  const out: TransferInfo[] = [];
  for (const d of downloads) {
    const seconds = (performance.now() - d.startedAt) / 1000;
    out.push({
      rootHex: d.offer.rootHex,
      name: d.offer.name,
      size: d.offer.size,
      bytesDone: d.bytesDone,
      status: d.status,
      rate: seconds > 0 ? d.bytesThisSession / seconds : 0,
      sources: d.activeSources,
    });
  }
  for (const s of shares) {
    out.push({
      rootHex: s.offer.rootHex,
      name: s.offer.name,
      size: s.offer.size,
      bytesDone: s.offer.size,
      status: 'complete',
      rate: 0,
      sources: [],
      path: s.path,
    });
  }
  return out;
}
