/**
 * Parsing of the lines typed into the CLI, and peer lookup for `/send <file> <peer>`. Pure.
 */
import type { PeerRef } from '../messages.js';
import { displayName, shortId } from './event-text.js';

/** A parsed input line. */
export type Command =
  | { kind: 'empty' }
  | { kind: 'chat'; text: string }
  | { kind: 'peers' }
  | { kind: 'discover' }
  | { kind: 'quit' }
  | { kind: 'help' }
  | { kind: 'connect'; address: string }
  | { kind: 'send'; file: string; peer?: string }
  | { kind: 'share'; file: string }
  | { kind: 'get'; root: string }
  | { kind: 'files'; json: boolean }
  | { kind: 'error'; message: string };

/** The `/help` text, one command per line. */
export const COMMAND_HELP = [
  '/peers                 connected peers (name, ID, address, last seen, RTT) and known peers',
  '/connect <host:port>   connect to a peer',
  '/discover              ask every peer for its peers now',
  '/send <file> [peer]    send a file to all peers, or to one (name or ID prefix); quote names with spaces',
  '                       (secure mode: they pull it, verified and resumable, if --accept-files agrees)',
  '/share <file>          announce a file you hold (secure mode); prints its root for /get',
  '/get <root-prefix>     fetch an offered file from every peer that has it (secure mode)',
  '/files [--json]        downloads (active, paused, finished), shared files and offers seen',
  '/quit                  leave the network and exit (also Ctrl-C, Ctrl-D)',
  '/help                  this list',
  '<text>                 chat with every peer (// at the start sends a literal /)',
];

/**
 * Splits command arguments on whitespace, honouring "double" and 'single' quotes and
 * backslash escapes outside single quotes (so `/send "my file.txt" bob` works).
 * Returns `undefined` for an unterminated quote.
 */
export function splitArgs(text: string): string[] | undefined {
  const out: string[] = [];
  let current = '';
  let inToken = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inToken = true;
    } else if (c === '\\' && i + 1 < text.length) {
      current += text[++i];
      inToken = true;
    } else if (/\s/.test(c)) {
      if (inToken) out.push(current);
      current = '';
      inToken = false;
    } else {
      current += c;
      inToken = true;
    }
  }
  if (quote) return undefined;
  if (inToken) out.push(current);
  return out;
}

/** Parses one input line. Anything not starting with `/` is chat; `//text` sends `/text`. */
export function parseCommand(line: string): Command {
  if (line.trim() === '') return { kind: 'empty' };
  if (line.startsWith('//')) return { kind: 'chat', text: line.slice(1) };
  if (!line.startsWith('/')) return { kind: 'chat', text: line };
  const trimmed = line.trim();
  const space = trimmed.search(/\s/);
  const name = (space < 0 ? trimmed : trimmed.slice(0, space)).toLowerCase();
  const rest = space < 0 ? '' : trimmed.slice(space + 1);
  const args = splitArgs(rest);
  if (!args) return { kind: 'error', message: `Unterminated quote in ${name}` };
  const noArgs = (command: Command): Command =>
    args.length === 0 ? command : { kind: 'error', message: `${name} takes no arguments` };
  switch (name) {
    case '/peers':
      return noArgs({ kind: 'peers' });
    case '/discover':
      return noArgs({ kind: 'discover' });
    case '/quit':
    case '/exit':
      return noArgs({ kind: 'quit' });
    case '/help':
    case '/?':
      return { kind: 'help' };
    case '/connect':
      if (args.length !== 1) return { kind: 'error', message: 'Usage: /connect <host:port>' };
      return { kind: 'connect', address: args[0] as string };
    case '/send':
      if (args.length < 1 || args.length > 2 || args[0] === '') {
        return { kind: 'error', message: 'Usage: /send <file> [peer]' };
      }
      return args.length === 2
        ? { kind: 'send', file: args[0] as string, peer: args[1] as string }
        : { kind: 'send', file: args[0] as string };
    case '/share':
      if (args.length !== 1 || args[0] === '') return { kind: 'error', message: 'Usage: /share <file>' };
      return { kind: 'share', file: args[0] as string };
    case '/get':
      if (args.length !== 1 || args[0] === '') return { kind: 'error', message: 'Usage: /get <root-prefix>' };
      return { kind: 'get', root: args[0] as string };
    case '/files':
      if (args.length === 0) return { kind: 'files', json: false };
      if (args.length === 1 && args[0] === '--json') return { kind: 'files', json: true };
      return { kind: 'error', message: 'Usage: /files [--json]' };
    default:
      return { kind: 'error', message: `Unknown command ${name} (type /help for the list)` };
  }
}

/** The result of looking a peer up by name or ID prefix. */
export type PeerLookup<P extends PeerRef> = { peer: P } | { error: string };

/**
 * Finds the connected peer meant by `query`: a full ID, or else every peer whose name equals
 * `query` or whose ID starts with it (case-insensitive for IDs). Exactly one must match.
 */
export function findPeer<P extends PeerRef>(peers: readonly P[], query: string): PeerLookup<P> {
  if (query === '') return { error: 'Empty peer name' };
  const exact = peers.find((p) => p.id === query);
  if (exact) return { peer: exact };
  const lower = query.toLowerCase();
  const matches = peers.filter((p) => p.name === query || p.id.toLowerCase().startsWith(lower));
  if (matches.length === 1) return { peer: matches[0] as P };
  if (matches.length === 0) {
    return { error: `No connected peer named ${JSON.stringify(query)} or with an ID starting with it` };
  }
  const list = matches.map((p) => `${displayName(p)} (${shortId(p.id)})`).join(', ');
  return { error: `${JSON.stringify(query)} is ambiguous: ${list}; use more of the ID` };
}

const COMMAND_NAMES = [
  '/peers',
  '/connect',
  '/discover',
  '/send',
  '/share',
  '/get',
  '/files',
  '/quit',
  '/help',
];

/**
 * Tab completion for the interactive prompt (readline's completer contract): command names
 * after `/`, and peer names for the last argument of `/send <file> <peer>`.
 */
export function complete(line: string, peerNames: readonly string[]): [string[], string] {
  if (/^\/\S*$/.test(line)) {
    const hits = COMMAND_NAMES.filter((c) => c.startsWith(line.toLowerCase()));
    return [hits.length === 1 ? [`${hits[0]} `] : hits, line];
  }
  const send = /^\/send\s+(?:"[^"]*"|'[^']*'|\S+)\s+(\S*)$/i.exec(line);
  if (send) {
    const partial = send[1] ?? '';
    return [[...new Set(peerNames)].filter((n) => n.startsWith(partial)).sort(), partial];
  }
  return [[], line];
}
