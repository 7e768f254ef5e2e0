/**
 * Node child processes for the NATS benchmarks, talking over IPC: the
 * publisher and each consumer run in processes of their own, as they would in
 * production, and the orchestrating process stays idle while they run.
 */
import { fork } from 'node:child_process';

/**
 * A message between a section and its child: `type` names it; the rest is the
 * message's own (loosely typed: each section and child agree on their fields).
 * @typedef {{ type: string, message?: string, [field: string]: any }} Message
 */

/**
 * @typedef {object} Waiter
 * @property {string} type
 * @property {(m: Message) => void} resolve
 * @property {(e: Error) => void} reject
 */

/**
 * In a child: sends `m` to the parent over IPC.
 * @param {Message} m
 */
export function toParent(m) {
  if (process.send === undefined) throw new Error('not a child process with an IPC channel');
  process.send(m);
}

export class Child {
  /**
   * @param {string} script module path
   * @param {string[]} args
   * @param {{execArgv?: string[], env?: Record<string, string>}} [opts]
   */
  constructor(script, args = [], opts = {}) {
    this.proc = fork(script, args, {
      execArgv: opts.execArgv ?? [],
      env: { ...process.env, ...(opts.env ?? {}) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    /** @type {Waiter[]} */
    this.waiting = [];
    /** @type {Message[]} */
    this.inbox = [];
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
    this.proc.on('message', (/** @type {Message} */ m) => {
      const i = this.waiting.findIndex((w) => w.type === m.type || m.type === 'error');
      if (i >= 0) {
        const [w] = this.waiting.splice(i, 1);
        if (m.type === 'error') w.reject(new Error(`${script}: ${m.message}`));
        else w.resolve(m);
      } else {
        this.inbox.push(m);
      }
    });
    this.proc.once('exit', (code) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`${script} exited (${code}) while waiting for ${w.type}`));
    });
  }

  /** @param {Message} m */
  send(m) {
    this.proc.send(m);
  }

  /**
   * The next message of `type` (or an error message from the child).
   * @param {string} type
   * @param {number} [timeoutMs]
   * @returns {Promise<Message>}
   */
  next(type, timeoutMs = 120_000) {
    const i = this.inbox.findIndex((m) => m.type === type || m.type === 'error');
    if (i >= 0) {
      const [m] = this.inbox.splice(i, 1);
      return m.type === 'error' ? Promise.reject(new Error(m.message)) : Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      /** @type {Waiter} */
      const w = { type, resolve, reject };
      const t = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(w), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${type}`));
      }, timeoutMs);
      w.resolve = (m) => {
        clearTimeout(t);
        resolve(m);
      };
      w.reject = (e) => {
        clearTimeout(t);
        reject(e);
      };
      this.waiting.push(w);
    });
  }

  /** Waits for the child to exit on its own (up to `graceMs`), then terminates it. */
  async stop(graceMs = 10_000) {
    if (this.proc.exitCode === null) {
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, graceMs))]);
    }
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(t);
    }
  }
}

/**
 * In a child: runs `handler` for each parent message; errors go back as {type: 'error'}.
 * @param {(m: Message) => unknown} handler
 */
export function serveParent(handler) {
  process.on('message', (/** @type {Message} */ m) => {
    Promise.resolve()
      .then(() => handler(m))
      .catch((err) => toParent({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
  });
}
