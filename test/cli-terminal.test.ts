/**
 * The interactive CLI on a real pseudo-terminal (util-linux `script`), its output fed to a
 * terminal emulator (@xterm/headless with Unicode 11 widths, as real terminals draw emoji). A
 * chat line of 100 rockets (U+1F680, which the old hand-written width table counted as one
 * column) wraps over three rows; after Enter the typed input must be erased completely and
 * replaced by the echo, leaving no stray row. Listens on 127.0.0.1 only.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import xterm from '@xterm/headless';
import unicode11 from '@xterm/addon-unicode11';
import { cliArgv, tempDir } from './cli-harness.js';

const COLS = 80;
const ROWS = 30;

function hasScript(): boolean {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return process.platform === 'linux';
  } catch {
    return false;
  }
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

describe('meshwire CLI: on a terminal', () => {
  it(
    'a long line of wide emoji is erased and echoed without a stray row',
    { timeout: 30_000, skip: hasScript() ? false : 'needs util-linux script (Linux)' },
    async (t) => {
      const cwd = await tempDir((fn) => t.after(fn));
      const term = new xterm.Terminal({ cols: COLS, rows: ROWS, allowProposedApi: true });
      term.loadAddon(new unicode11.Unicode11Addon());
      term.unicode.activeVersion = '11';
      const command = [process.execPath, ...cliArgv(['--host', '127.0.0.1', '--name', 'alice', '0'])]
        .map(quote)
        .join(' ');
      const child = spawn(
        'script',
        ['-qfec', `stty cols ${COLS} rows ${ROWS}; exec ${command}`, '/dev/null'],
        {
          cwd,
          env: { ...process.env, TERM: 'xterm-256color', NO_COLOR: '1', NODE_TEST_CONTEXT: undefined },
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      t.after(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
      });
      const screen = (): string[] => {
        const rows: string[] = [];
        const buffer = term.buffer.active;
        for (let i = 0; i < buffer.length; i++) rows.push(buffer.getLine(i)?.translateToString(true) ?? '');
        return rows;
      };
      let waiter: (() => void) | undefined;
      child.stdout.on('data', (chunk: Buffer) => term.write(chunk, () => waiter?.()));
      const waitForScreen = (test: (rows: string[]) => boolean, what: string): Promise<void> =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`timed out waiting for ${what}:\n${screen().join('\n')}`)),
            15_000,
          );
          waiter = () => {
            if (test(screen())) {
              clearTimeout(timer);
              waiter = undefined;
              resolve();
            }
          };
          waiter();
        });

      await waitForScreen((rows) => rows.some((r) => r.includes('Type a message to chat')), 'the prompt');
      child.stdin.write('🚀'.repeat(100));
      await waitForScreen((rows) => rows.join('').split('🚀').length - 1 === 100, 'the typed line');
      child.stdin.write('\r');
      await waitForScreen(
        (rows) => rows.some((r) => r.includes('No peers connected; nobody received that')),
        'the echo',
      );

      const rows = screen();
      const rockets = rows.join('').split('🚀').length - 1;
      assert.equal(rockets, 100, `only the echo holds rockets:\n${rows.join('\n')}`);
      const echo = rows.findIndex((r) => /^\[\d\d:\d\d:\d\d\] <alice \w+> 🚀/.test(r));
      assert.ok(echo > 0, `the echo line:\n${rows.join('\n')}`);
      assert.match(
        rows[echo - 1] as string,
        /Type a message to chat/,
        `nothing left between:\n${rows.join('\n')}`,
      );
      // The echo wraps over 3 rows (about 30 + 200 columns), then the status line, then the prompt.
      assert.match(rows[echo + 3] as string, /\[SYSTEM\] No peers connected/);
      assert.equal((rows[echo + 4] as string).trimEnd(), '>');

      child.stdin.write('/quit\r');
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 0);
    },
  );
});
