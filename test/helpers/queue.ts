/**
 * For the distributed-sweep tests (test/explore-queue.test.ts, test/slow/explore-queue-kill.test.ts):
 * a real redis-server on a free loopback port with no persistence, and `vtw worker` processes
 * whose output lines the test can wait for.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { once } from 'node:events';
import { VTW_BIN } from './vtw-child.ts';

/** A loopback port nothing listens on (at the time of asking). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

/** Whether something answers PING with PONG at the port. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.setTimeout(500, () => (s.destroy(), resolve(false)));
    s.on('error', () => resolve(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => (s.destroy(), resolve(d.toString().startsWith('+PONG'))));
  });
}

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
  const t0 = Date.now();
  while (!(await pong(port))) {
    if (child.exitCode !== null) throw new Error(`redis-server --port ${port} exited (${child.exitCode})`);
    if (Date.now() - t0 > 10_000) throw new Error(`redis-server --port ${port} did not answer in 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`, port,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    },
  };
}

export interface WorkerProcess {
  child: ChildProcess;
  /** stdout lines so far. */
  lines: string[];
  /** Resolves with the first line (present or future) matching `re`, with the time it was seen. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<{ line: string; at: number }>;
  stop(): Promise<void>;
}

export function startWorker(url: string, workers = 1, env: Record<string, string> = {}): WorkerProcess {
  const child = spawn(process.execPath, [VTW_BIN, 'worker', '--queue', url, '--workers', String(workers)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines: string[] = [];
  const seen: number[] = [];
  const waiters: { re: RegExp; resolve: (v: { line: string; at: number }) => void }[] = [];
  let buf = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      seen.push(Date.now());
      for (const w of waiters.filter((x) => x.re.test(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve({ line, at: Date.now() });
      }
    }
  });
  return {
    child, lines,
    waitFor(re, timeoutMs = 60_000) {
      const i = lines.findIndex((l) => re.test(l));
      if (i >= 0) return Promise.resolve({ line: lines[i], at: seen[i] });
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`vtw worker printed no line matching ${re} in ${timeoutMs / 1000} s; stdout:\n${lines.join('\n')}\nstderr:\n${err}`)), timeoutMs);
        waiters.push({ re, resolve: (v) => (clearTimeout(t), resolve(v)) });
        child.once('exit', (code, sig) => {
          if (waiters.some((w) => w.re === re)) reject(new Error(`vtw worker exited (${sig ?? code}) before a line matching ${re}; stderr:\n${err}`));
        });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await once(child, 'exit');
      clearTimeout(t);
    },
  };
}
