import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess } from '../helpers/cli-process.js';
import { freePort, natsServerBin, waitFor } from '../helpers/nats-server.js';
import { getJson } from '../helpers/service.js';

/**
 * SPEC §9: refused authentication, TLS failures and missing files are never
 * silent and never a crash; credentials never show. Real nats-servers with
 * user/password and with mutual TLS, certificates made by openssl.
 */
const dir = mkdtempSync(join(tmpdir(), 'senpai-auth-'));
const servers: ChildProcess[] = [];
const procs: CliProcess[] = [];
let authPort = 0;
let tlsPort = 0;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A CA, and a certificate for `name` signed by it. */
function makeCa(prefix: string): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${prefix}-ca`, '-keyout', `${prefix}-ca.key`, '-out', `${prefix}-ca.pem`]);
}
function makeCert(ca: string, name: string, san: string): void {
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}-ca.pem`, '-CAkey', `${ca}-ca.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
}

async function startServer(conf: string, port: number): Promise<void> {
  const file = join(dir, `server-${port}.conf`);
  writeFileSync(file, conf);
  const p = spawn(natsServerBin(), ['-c', file], { stdio: 'ignore' });
  servers.push(p);
  await waitFor(async () => {
    const net = await import('node:net');
    return new Promise<boolean>((r) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
  }, `nats-server on ${port}`);
}

beforeAll(async () => {
  authPort = await freePort();
  await startServer(`listen: 127.0.0.1:${authPort}\nauthorization { user: alice, password: "right-pass" }\n`, authPort);
  makeCa('good');
  makeCa('other');
  makeCert('good', 'server', 'IP:127.0.0.1,DNS:localhost');
  makeCert('good', 'client', 'DNS:client');
  tlsPort = await freePort();
  await startServer(
    `listen: 127.0.0.1:${tlsPort}\ntls { cert_file: "${join(dir, 'server.pem')}", key_file: "${join(dir, 'server.key')}", ca_file: "${join(dir, 'good-ca.pem')}", verify: true, timeout: 2 }\n`,
    tlsPort,
  );
}, 60_000);

afterAll(() => {
  for (const p of procs) p.kill('SIGKILL');
  for (const s of servers) s.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the service until its log shows `pattern` twice (repeated with backoff), then reads /health. */
async function failingRun(env: Record<string, string>, pattern: RegExp) {
  const port = await freePort();
  const p = CliProcess.start(['run'], { HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), ...env });
  procs.push(p);
  await waitFor(() => (p.output.match(new RegExp(pattern.source, 'g')) ?? []).length >= 2, `two warn lines matching ${pattern} in: ${p.output}`, 20_000);
  const health = await getJson(`http://127.0.0.1:${port}/health`);
  expect(p.proc.exitCode).toBeNull(); // still running: retried for ever, never a crash
  p.kill('SIGTERM');
  expect(await p.exited).toBe(0);
  return { output: p.output, health };
}

describe('connection failures are loud, retried, never a crash (SPEC §9)', () => {
  it('wrong credentials: warn lines with the server reason, 503 with nats_error, no password anywhere', async () => {
    const { output, health } = await failingRun({ NATS_URL: `nats://alice:wrong-pass@127.0.0.1:${authPort}` }, /Authorization Violation/i);
    console.log(`wrong credentials → log: ${output.split('\n').find((l) => /Authorization/i.test(l))}\n/health: ${JSON.stringify(health.body)}`);
    expect(output).toMatch(/"level":40/); // warn
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'degraded', reasons: ['nats'], nats_connected: false });
    expect(String(health.body.nats_error)).toMatch(/Authorization Violation/i);
    expect(output + JSON.stringify(health.body)).not.toMatch(/wrong-pass|alice:/);
  });

  it('credentials in NATS_URL are honoured and never logged', async () => {
    const port = await freePort();
    const p = CliProcess.start(['run'], { NATS_URL: `nats://alice:right-pass@127.0.0.1:${authPort}`, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), LOG_LEVEL: 'info' });
    procs.push(p);
    await waitFor(async () => (await getJson(`http://127.0.0.1:${port}/health`)).status === 200, 'connected with the URL credentials');
    expect(p.output).toContain(`nats://127.0.0.1:${authPort}`);
    expect(p.output).not.toMatch(/right-pass|alice/);
    p.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('TLS with an unknown CA: the TLS reason is logged and shown', async () => {
    const { output, health } = await failingRun(
      { NATS_URL: `tls://127.0.0.1:${tlsPort}`, NATS_TLS_CA: join(dir, 'other-ca.pem'), NATS_TLS_CERT: join(dir, 'client.pem'), NATS_TLS_KEY: join(dir, 'client.key') },
      /cannot connect to NATS: [^"]*(certificate|self.signed)/i,
    );
    console.log(`unknown CA → /health: ${JSON.stringify(health.body)}`);
    expect(output).toMatch(/certificate/i);
    expect(health.status).toBe(503);
    expect(String(health.body.nats_error)).toMatch(/certificate|self.signed/i);
  });

  it('TLS without the client certificate the server requires: the reason is logged and shown', async () => {
    const { health } = await failingRun({ NATS_URL: `tls://127.0.0.1:${tlsPort}`, NATS_TLS_CA: join(dir, 'good-ca.pem') }, /cannot connect to NATS/);
    console.log(`missing client certificate → /health: ${JSON.stringify(health.body)}`);
    expect(health.status).toBe(503);
    expect(String(health.body.nats_error)).toMatch(/certificate/i);
  });

  it('a missing NATS_CREDS_FILE exits 2 with one line naming it', async () => {
    const p = CliProcess.start(['run'], { NATS_CREDS_FILE: join(dir, 'missing.creds') });
    expect(await p.exited).toBe(2);
    expect(p.output.trim()).toBe(`senpai-md: invalid NATS_CREDS_FILE="${join(dir, 'missing.creds')}": expected the path of a readable file`);
  });

  it('bad numbers and a removed setting exit 2 with one line; an unknown variable is a warning with the closest name', async () => {
    for (const [k, v] of [['STALE_AFTER_MS', '0x10'], ['FEATURES_PUB_RATE_HZ', '1e-9'], ['NATS_QUEUE_GROUP', 'g']] as const) {
      const p = CliProcess.start(['run'], { [k]: v });
      expect(await p.exited, `${k}=${v}`).toBe(2);
      expect(p.output.trim().split('\n')).toHaveLength(1);
      expect(p.output).toContain(k);
    }
    const port = await freePort();
    const p = CliProcess.start(['run'], { NATS_URLL: 'nats://x:1', NATS_URL: 'nats://127.0.0.1:1', HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port) });
    procs.push(p);
    await waitFor(() => /unknown variable NATS_URLL ignored; did you mean NATS_URL\?/.test(p.output), 'the warning');
    await waitFor(async () => (await getJson(`http://127.0.0.1:${port}/health`)).status === 503, 'HTTP up');
    p.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });
});
