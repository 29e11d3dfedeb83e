/**
 * The queue's address: `redis://[user:password@]host:port[/db]` (or rediss:// for TLS). The password
 * comes from the URL or, when the URL has none, from BITNET_REDIS_PASSWORD; it is never printed: every
 * message shows the URL with the password as ***. A bad URL is an InputError naming --queue.
 */
import type { ConnectionOptions } from 'bullmq';
import { InputError } from '../../errors.ts';

export interface QueueAddress {
  connection: ConnectionOptions;
  /** The URL with the password replaced: what logs and errors show. */
  display: string;
  /** BullMQ queue name (one queue holds every study; a job id is a run id). */
  name: string;
}

export const QUEUE_NAME = 'bitnet-ablate';

export function parseQueueUrl(raw: string, env: NodeJS.ProcessEnv = process.env): QueueAddress {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new InputError('--queue', `"${redactUrl(raw)}" is not a URL (expected redis://[user:password@]host:port[/db])`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new InputError('--queue', `${u.protocol}// is not redis:// or rediss://`);
  if (u.hostname === '') throw new InputError('--queue', 'no host in the URL');
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0 || db > 1 << 16) throw new InputError('--queue', `database "${dbText}" is not a non-negative integer`);
  const password = u.password !== '' ? decodeURIComponent(u.password) : env.BITNET_REDIS_PASSWORD;
  const username = u.username !== '' ? decodeURIComponent(u.username) : undefined;
  const display = `${u.protocol}//${username ? `${username}${password ? ':***' : ''}@` : password ? ':***@' : ''}${u.hostname}:${port}/${db}`;
  return {
    connection: {
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port,
      db,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
      // BullMQ workers need this (blocking commands); retry forever with backoff: a restarted Redis is waited for.
      maxRetriesPerRequest: null,
      retryStrategy: (times: number) => Math.min(200 * times, 2000),
    },
    display,
    name: QUEUE_NAME,
  };
}

/** A URL (or anything) with its password, if any, replaced by ***. */
export function redactUrl(raw: string): string {
  return raw.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}
