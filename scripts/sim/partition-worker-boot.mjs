// Bootstrap of a parallel simulator worker: registers tsx's loader in this thread, then loads
// the TypeScript entry. (A worker started on a .ts file with `--import tsx` in its execArgv
// fails on Node 20 with ERR_UNKNOWN_FILE_EXTENSION: the entry is resolved before the hooks.)
import { register } from 'tsx/esm/api';

register();
await import('./partition-worker.ts');
