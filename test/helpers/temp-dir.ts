/**
 * Temporary directories for tests: created under the OS temp directory and removed with
 * everything in them when the test ends (the removal is registered before the path is returned).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

/** A fresh directory named `<prefix>XXXXXX`, removed after the test. */
export async function tempDir(t: TestContext, prefix = 'meshwire-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
