/**
 * What the CLI runs with: its streams, environment and signals (the process's, unless a test
 * passes others), its exit codes and its version.
 */
import { readFileSync } from 'node:fs';

/** Streams and environment the CLI runs with. */
export interface CliIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & {
    isTTY?: boolean;
    columns?: number;
    hasColors?: (env?: Record<string, string | undefined>) => boolean;
  };
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Subscribes to a process signal; returns an unsubscribe function. */
  onSignal: (signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP', handler: () => void) => () => void;
}

/** Exit code of a clean shutdown. */
export const EXIT_OK = 0;
/** Exit code when the node cannot run (port taken, unreadable key file). */
export const EXIT_FAILURE = 1;
/** Exit code of a usage error. */
export const EXIT_USAGE = 2;

/** The package version, read from package.json next to `src/` or `dist/`. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The real process's streams, environment and signals. */
export function processIO(): CliIO {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    onSignal: (signal, handler) => {
      process.on(signal, handler);
      return () => process.off(signal, handler);
    },
  };
}
