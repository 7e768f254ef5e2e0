import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig, readEnvironment } from '../../src/config/config.js';
import { ConfigError } from '../../src/domain/errors.js';

const root = join(import.meta.dirname, '..', '..');

describe('config', () => {
  it('has the defaults of SPEC §9', () => {
    const c = loadConfig({});
    expect(c.nats.servers).toEqual(['nats://127.0.0.1:4222']);
    expect(c.nats.subject).toBe('md.events.>');
    expect(c.http).toEqual({ host: '0.0.0.0', port: 8892, maxConnections: 256, maxStreamClients: 32, authToken: undefined });
    expect(c.metricsMaxSymbols).toBe(100);
    expect(c.windowMs).toBe(60_000);
    expect(c.rules).toEqual({ returnThreshold: 0.003, volumeThreshold: 1, spreadMaxBps: 20, cooldownMs: 10_000 });
    expect([c.queueMaxSize, c.featuresPubRateHz, c.maxSymbols, c.maxFutureSkewMs, c.latencyAlertMs, c.staleAfterMs, c.alertCooldownMs]).toEqual([10000, 10, 10000, 60000, 2000, 10000, 10000]);
    expect(c.jetstream).toEqual({ enabled: false, stream: 'MD_EVENTS', durable: 'senpai-md-consumer' });
  });

  it('runs the engine on the main thread unless ENGINE_THREAD=worker, which cluster mode refuses', () => {
    expect(loadConfig({}).engineThread).toBe('main');
    expect(loadConfig({ ENGINE_THREAD: ' Worker ' }).engineThread).toBe('worker');
    expect(() => loadConfig({ ENGINE_THREAD: 'worker', CLUSTER_PARTITIONS: '6', USE_JETSTREAM: 'true' })).toThrow(/ENGINE_THREAD="worker": cluster mode .* set ENGINE_THREAD=main/);
    expect(loadConfig({ ENGINE_THREADS: 'worker' }).warnings).toEqual(['unknown variable ENGINE_THREADS ignored; did you mean ENGINE_THREAD?']);
  });

  it('reads comma-separated NATS URLs and booleans', () => {
    const c = loadConfig({ NATS_URL: 'nats://a:4222, nats://b:4223', USE_JETSTREAM: 'TRUE' });
    expect(c.nats.servers).toEqual(['nats://a:4222', 'nats://b:4223']);
    expect(c.jetstream.enabled).toBe(true);
  });

  it('names the variable, the value and what is expected for an invalid value', () => {
    const bad: [string, string, RegExp][] = [
      ['HTTP_PORT', 'abc', /HTTP_PORT="abc": expected an integer from 0 to 65535/],
      ['QUEUE_MAX_SIZE', '0', /QUEUE_MAX_SIZE="0": expected an integer from 1 to 10000000/],
      ['USE_JETSTREAM', 'maybe', /USE_JETSTREAM="maybe": expected a boolean/],
      ['ROLLING_WINDOW_SECONDS', '-1', /ROLLING_WINDOW_SECONDS="-1"/],
      ['NATS_URL', 'http://x', /NATS_URL/],
      ['LOG_LEVEL', 'loud', /LOG_LEVEL="loud"/],
      ['NATS_SUBJECT', 'md..x', /NATS_SUBJECT/],
      ['ENGINE_THREAD', 'both', /ENGINE_THREAD="both": expected main or worker/],
    ];
    for (const [k, v, re] of bad) {
      expect(() => loadConfig({ [k]: v })).toThrow(ConfigError);
      expect(() => loadConfig({ [k]: v })).toThrow(re);
    }
  });

  it('reads a .env file in the working directory, the environment winning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'senpai-env-'));
    writeFileSync(join(dir, '.env'), 'HTTP_PORT=9999\nQUEUE_MAX_SIZE=5 # comment\n');
    const env = readEnvironment({ QUEUE_MAX_SIZE: '7' }, dir);
    expect(loadConfig(env).http.port).toBe(9999);
    expect(loadConfig(env).queueMaxSize).toBe(7);
  });

  it('.env.example lists every variable', async () => {
    const { readFileSync } = await import('node:fs');
    const example = readFileSync(join(root, '.env.example'), 'utf8');
    for (const v of CONFIG_VARIABLES) expect(example).toMatch(new RegExp(`^#?\\s*${v}=`, 'm'));
  });
});

describe('CLI exit codes', () => {
  const cli = (args: string[], env: Record<string, string> = {}, input?: string) =>
    spawnSync(process.execPath, [join(root, 'bin', 'senpai-md'), ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, input, cwd: tmpdir() });

  it('exits 2 with one line naming an invalid variable', () => {
    const r = cli(['compute', '-'], { ROLLING_WINDOW_SECONDS: 'ten' }, '');
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/ROLLING_WINDOW_SECONDS="ten"/);
  });

  it('run exits 2 with one line for a NATS_URL it could never connect to, instead of retrying for ever', async () => {
    // an unused port: before the check, `run` took these URLs and retried them for ever
    for (const url of ['nats://127.0.0.1:99999', 'nats://:4', 'nats://127.0.0.1:0']) {
      const p = spawn(process.execPath, [join(root, 'bin', 'senpai-md'), 'run'], { env: { PATH: process.env.PATH ?? '', NATS_URL: url, HTTP_HOST: '127.0.0.1', HTTP_PORT: '0' }, cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
      const deadline = setTimeout(() => p.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(deadline);
      expect(code, `${url}: ${stderr}`).toBe(2);
      expect(stderr.trim().split('\n'), url).toHaveLength(1);
      expect(stderr, url).toMatch(/^senpai-md: invalid NATS_URL=/);
    }
  }, 40_000);

  it('exits 2 with a usage line for bad arguments', () => {
    for (const args of [['compute'], ['compute', 'a', 'b'], ['compute', '-', '--bogus'], ['compute', '-', '--window-seconds', 'x'], ['nope'], ['compute', '/no/such/file']]) {
      const r = cli(args, {}, '');
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/usage: senpai-md/);
    }
  });

  it('names a flag by itself (and the variable it stands for), takes the variables\' decimal spellings only, and says it in one line', () => {
    const cases: [string[], RegExp][] = [
      [['compute', '-', '--window-seconds', '5'], /^senpai-md: invalid --window-seconds \(ROLLING_WINDOW_SECONDS\)="5": expected an integer from 10 to 86400$/],
      [['compute', '-', '--window-seconds', '1e2'], /^senpai-md: invalid --window-seconds \(ROLLING_WINDOW_SECONDS\)="1e2": expected an integer from 10 to 86400$/],
      [['compute', '-', '--cooldown-ms', '0x10'], /^senpai-md: invalid --cooldown-ms \(SIGNAL_COOLDOWN_MS\)="0x10": /],
      [['compute', '-', '--return-threshold', '-1'], /^senpai-md: Option '--return-threshold' argument is ambiguous\./],
      [['simulate', '--rate', '-5'], /^senpai-md: Option '--rate' argument is ambiguous\. .*'--rate=-XYZ'\.$/],
      // refused before connecting: published, the service would refuse every event of it
      [['simulate', '--symbols', 'BTCUSDT,bad.sym'], /^senpai-md: --symbols: "BAD\.SYM" is not a symbol/],
    ];
    for (const [args, line] of cases) {
      const r = cli(args, {}, '');
      expect(r.status, args.join(' ')).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, args.join(' ')).toHaveLength(2); // the complaint and the usage line
      expect(lines[0], args.join(' ')).toMatch(line);
      expect(lines[1], args.join(' ')).toMatch(/^usage: senpai-md /);
    }
  });

  it('takes every spelling of a flag that its variable takes (0.0000001 is not turned into 1e-7)', () => {
    const r = cli(['compute', '-', '--return-threshold', '0.0000001', '--volume-threshold', '1000000000000000', '--window-seconds', ' 30 '], {}, '');
    expect(r.stderr).toBe('{"accepted":0,"rejected":{}}\n');
    expect(r.status).toBe(0);
  });

  it('refuses an --output it cannot write before reading any input: exit 2 with one line and the usage line', () => {
    const events = join(root, 'examples', 'sample-events.jsonl');
    for (const [out, why] of [[join(tmpdir(), 'no-such-dir-senpai', 'x.jsonl'), /ENOENT/], [tmpdir(), /EISDIR/]] as const) {
      const r = cli(['compute', events, '--output', out]);
      expect(r.status, out).toBe(2);
      expect(r.stderr, out).toMatch(new RegExp(`^senpai-md: cannot write ${JSON.stringify(out).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
      expect(r.stderr, out).toMatch(why);
      expect(r.stderr.trim().split('\n'), out).toHaveLength(2); // the line and the usage line: no summary, no stack
    }
    const dir = cli(['compute', tmpdir()]);
    expect(dir.status).toBe(2);
    expect(dir.stderr).toMatch(/: not a file\n/);
  });

  it('stops quietly with exit 0 when the reader of its output pipe goes away (compute … | head -1)', async () => {
    // enough features records that the pipe fills after the reader has gone
    const { writeFileSync, rmSync } = await import('node:fs');
    const big = join(tmpdir(), `senpai-pipe-${process.pid}.jsonl`);
    const lines: string[] = [];
    for (let i = 0; i < 30_000; i++) lines.push(`{"type":"trade","symbol":"BTCUSDT","price":${43000 + (i % 7)},"size":1,"trade_id":"${i}","ts_exchange":${1760000000000 + i}}`);
    writeFileSync(big, lines.join('\n') + '\n');
    try {
      const r = spawnSync('/bin/sh', ['-c', `("${process.execPath}" "${join(root, 'bin', 'senpai-md')}" compute "${big}"; echo "status $?" >&2) | head -1 >/dev/null`], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, cwd: tmpdir() });
      expect(r.stderr.trim()).toBe('status 0'); // no error line, no stack trace
    } finally {
      rmSync(big, { force: true });
    }
  });

  it('reads stdin with "-", skips blank lines silently and counts lines for records', () => {
    const input = '\n{"type":"trade","symbol":"X","price":1,"size":1,"ts":1760000000}\n  \nnot json\n{"type":"heartbeat"}\n';
    const r = cli(['compute', '-'], {}, input);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; line: number });
    expect(lines.map((l) => [l.kind, l.line])).toEqual([['features', 2]]);
    expect(JSON.parse(r.stderr.trim().split('\n').pop()!)).toEqual({ accepted: 2, rejected: { parse_error: 1 } });
  });

  it('counts a line over 1 MiB as invalid without parsing it, and goes on', () => {
    const long = `{"type":"trade","note":"${'x'.repeat(2 * 1024 * 1024)}"}`;
    const input = `${long}\n{"type":"trade","symbol":"X","price":1,"size":1,"ts":1760000000}\n`;
    const r = cli(['compute', '-', '--verbose'], {}, input);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { line: number }).line)).toEqual([2]);
    expect(r.stderr).toMatch(new RegExp(`^line 1: invalid: line of ${long.length} bytes exceeds 1 MiB$`, 'm'));
    expect(JSON.parse(r.stderr.trim().split('\n').pop()!)).toEqual({ accepted: 1, rejected: { invalid: 1 } });
  });

  it('prints help with exit 0', () => {
    const r = cli(['compute', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--window-seconds/);
  });
});

describe('config strictness (SPEC §9)', () => {
  it('takes plain decimal numbers only, inside the documented ranges', () => {
    const bad: [string, string][] = [
      ['STALE_AFTER_MS', '0x10'],
      ['FEATURES_PUB_RATE_HZ', '1e-9'],
      ['FEATURES_PUB_RATE_HZ', '0.01'],
      ['FEATURES_PUB_RATE_HZ', '2000'],
      ['QUEUE_MAX_SIZE', '1e4'],
      ['QUEUE_MAX_SIZE', '+5'],
      ['QUEUE_MAX_SIZE', '10_000'],
      ['ROLLING_WINDOW_SECONDS', '5'],
      ['ROLLING_WINDOW_SECONDS', '60.5'],
      ['SIGNAL_RETURN_THRESHOLD', '.003'],
      ['QUEUE_MAX_BYTES', '1000'],
      ['SYMBOL_IDLE_EVICT_S', '30'],
    ];
    for (const [k, v] of bad) expect(() => loadConfig({ [k]: v }), `${k}=${v}`).toThrow(new RegExp(`invalid ${k}="${v.replace(/[.+]/g, '\\$&')}": expected`));
    const c = loadConfig({ STALE_AFTER_MS: ' 5000 ', FEATURES_PUB_RATE_HZ: '0.5', SIGNAL_RETURN_THRESHOLD: '0.0025', QUEUE_MAX_BYTES: '1048576', SYMBOL_IDLE_EVICT_S: '60' });
    expect([c.staleAfterMs, c.featuresPubRateHz, c.rules.returnThreshold, c.queueMaxBytes, c.symbolIdleEvictMs]).toEqual([5000, 0.5, 0.0025, 1048576, 60_000]);
  });

  it('needs SYMBOL_IDLE_EVICT_S >= ROLLING_WINDOW_SECONDS', () => {
    expect(() => loadConfig({ ROLLING_WINDOW_SECONDS: '120', SYMBOL_IDLE_EVICT_S: '60' })).toThrow(/SYMBOL_IDLE_EVICT_S="60": expected at least ROLLING_WINDOW_SECONDS \(120\)/);
  });

  it('needs file settings to name readable files', () => {
    expect(() => loadConfig({ NATS_CREDS_FILE: '/nonexistent/user.creds' })).toThrow(/invalid NATS_CREDS_FILE="\/nonexistent\/user.creds": expected the path of a readable file/);
    expect(() => loadConfig({ NATS_TLS_CA: '/' })).toThrow(/NATS_TLS_CA/);
  });

  it('refuses NATS_QUEUE_GROUP with the reason and what to use instead', () => {
    expect(() => loadConfig({ NATS_QUEUE_GROUP: 'workers' })).toThrow(/NATS_QUEUE_GROUP is not supported: a queue group splits one symbol's events.*cluster mode/);
  });

  it('names the allowed LOG_LEVEL values in one plain line', () => {
    expect(() => loadConfig({ LOG_LEVEL: 'verbose' })).toThrow(ConfigError);
    let message = '';
    try {
      loadConfig({ LOG_LEVEL: 'verbose' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe('invalid LOG_LEVEL="verbose": expected one of fatal, error, warn, info, debug, trace, silent');
    expect(loadConfig({ LOG_LEVEL: ' debug ' }).logLevel).toBe('debug');
  });

  it('suggests a known name only when the unknown one is close to it', () => {
    const c = loadConfig({ SENPAI_FOO: '1', HTTP_TIMEOUT: '5', JETSTREAM_STREM: 'x', HTTP_PORTT: '1' });
    expect(c.warnings).toEqual([
      'unknown variable HTTP_PORTT ignored; did you mean HTTP_PORT?',
      'unknown variable HTTP_TIMEOUT ignored',
      'unknown variable JETSTREAM_STREM ignored; did you mean JETSTREAM_STREAM?',
      'unknown variable SENPAI_FOO ignored',
    ]);
  });

  it('warns about unknown variables with its prefixes, naming the closest known one', () => {
    const c = loadConfig({ NATS_URLL: 'nats://x:1', SIGNAL_COLDOWN_MS: '5', HTTP_PROXY: 'x', NATS_SERVICE_HOST: 'h', NATS_PORT_4222_TCP: 'x', OTHER_THING: '1', NATS_SERVER_BIN: '/x' });
    expect(c.warnings).toEqual([
      'unknown variable NATS_URLL ignored; did you mean NATS_URL?',
      'unknown variable SIGNAL_COLDOWN_MS ignored; did you mean SIGNAL_COOLDOWN_MS?',
    ]);
  });

  it('takes an unprefixed name for a misspelling only within two edits of one of its own', () => {
    const c = loadConfig({ ROLLING_WINDOW_SECOND: '30', LOG_LEVLE: 'debug', METRICS_MAX_SYMBOL: '5', HOME: '/root', LOGNAME: 'x', MAX_SYMBOLS_X: '1', PWD: '/', LANGUAGE: 'en' });
    expect(c.warnings).toEqual([
      'unknown variable LOG_LEVLE ignored; did you mean LOG_LEVEL?',
      'unknown variable MAX_SYMBOLS_X ignored; did you mean MAX_SYMBOLS?',
      'unknown variable METRICS_MAX_SYMBOL ignored; did you mean METRICS_MAX_SYMBOLS?',
      'unknown variable ROLLING_WINDOW_SECOND ignored; did you mean ROLLING_WINDOW_SECONDS?',
    ]);
    expect(c.windowMs).toBe(60_000); // ignored, as said
  });

  it('refuses an empty host or a port outside 1-65535 in any NATS_URL entry, naming it without credentials', () => {
    const bad: [string, string][] = [
      ['nats://127.0.0.1:99999', '"nats://127.0.0.1:99999" has a port outside 1-65535'],
      ['nats://127.0.0.1:0', '"nats://127.0.0.1:0" has a port outside 1-65535'],
      ['nats://h:', '"nats://h:" has a port outside 1-65535'],
      ['nats://:4222', '"nats://:4222" has no host'],
      ['nats://[]:4222', '"nats://[]:4222" has no host'],
      ['nats://a:4222, nats://alice:s3cret@:4222', '"nats://:4222" has no host'],
      ['nats://a:4222,tls://tok3n@b:65536', '"tls://b:65536" has a port outside 1-65535'],
      // a password with a raw @: the credentials end at the last one
      ['nats://alice:s3c@ret@h:99999', '"nats://h:99999" has a port outside 1-65535'],
      ['foo bar', '"foo bar" is not one'],
    ];
    for (const [url, expected] of bad) {
      let message = '';
      try {
        loadConfig({ NATS_URL: url });
      } catch (err) {
        expect(err, url).toBeInstanceOf(ConfigError);
        message = (err as Error).message;
      }
      expect(message, url).toMatch(/^invalid NATS_URL="[^\n]*": expected comma-separated nats:\/\/host:port URLs; /);
      expect(message.endsWith(expected), `${url} → ${message}`).toBe(true);
      expect(message, url).not.toMatch(/alice|s3c|ret@|tok3n/);
    }
    const ok = ['nats://[::1]:4222', 'nats://::1', 'nats://h', 'h:1', 'tls://user:p@h:65535', 'NATS://Host:4222/'];
    for (const url of ok) expect(loadConfig({ NATS_URL: url }).nats.servers, url).toHaveLength(1);
    // a raw @ in a password: nothing of it is left in the URLs handed to the client (and logged)
    const raw = loadConfig({ NATS_URL: 'nats://alice:p@ss@h:4222' });
    expect(raw.nats.servers).toEqual(['nats://h:4222']);
    expect([raw.nats.user, raw.nats.password]).toEqual(['alice', 'p@ss']);
  });

  it('honours credentials written into NATS_URL, strips them from the URLs and never shows them', () => {
    const c = loadConfig({ NATS_URL: 'nats://alice:s%40cret@a:4222,nats://b:4223', NATS_USER: 'bob', NATS_PASSWORD: 'other' });
    expect(c.nats.servers).toEqual(['nats://a:4222', 'nats://b:4223']);
    expect([c.nats.user, c.nats.password, c.nats.token]).toEqual(['alice', 's@cret', undefined]);
    const t = loadConfig({ NATS_URL: 'nats://tok123@a:4222', NATS_TOKEN: 'ignored' });
    expect([t.nats.token, t.nats.user]).toEqual(['tok123', undefined]);
    expect(() => loadConfig({ NATS_URL: 'nats://a:x@h:1,nats://b:y@h:2' })).toThrow(/different credentials/);
    try {
      loadConfig({ NATS_URL: 'http://alice:secret@h:1' });
    } catch (err) {
      expect(String(err)).toMatch(/invalid NATS_URL/);
      expect(String(err)).not.toMatch(/secret|alice/);
    }
    expect(() => loadConfig({ NATS_PASSWORD: 'secret', QUEUE_MAX_SIZE: 'x' })).toThrow(/QUEUE_MAX_SIZE/);
  });

  it('cluster mode (SPEC §12): off by default, requires JetStream, strict numbers, the advertised URL only as set', () => {
    expect(loadConfig({}).cluster).toBeNull();
    expect(() => loadConfig({ CLUSTER_PARTITIONS: '6' })).toThrow(/CLUSTER_PARTITIONS="6": cluster mode requires USE_JETSTREAM=true/);
    const c = loadConfig({ CLUSTER_PARTITIONS: '6', USE_JETSTREAM: 'true', HTTP_HOST: '10.0.0.5', HTTP_PORT: '9000' });
    expect(c.cluster).toMatchObject({ partitions: 6, bucket: 'senpai_cluster', leaseMs: 15000, advertiseUrl: null });
    expect(c.cluster!.memberId).toMatch(/^[A-Za-z0-9_=-]{1,64}$/);
    expect(loadConfig({ CLUSTER_PARTITIONS: '6', USE_JETSTREAM: 'true' }).cluster!.memberId).not.toBe(c.cluster!.memberId);
    const d = loadConfig({ CLUSTER_PARTITIONS: '12', USE_JETSTREAM: 'true', CLUSTER_MEMBER_ID: 'm-1', CLUSTER_ADVERTISE_URL: 'http://senpai-1:8892', CLUSTER_LEASE_MS: '3000' });
    expect(d.cluster).toEqual({ partitions: 12, bucket: 'senpai_cluster', leaseMs: 3000, advertiseUrl: 'http://senpai-1:8892', memberId: 'm-1' });
    for (const [k, v] of [['CLUSTER_PARTITIONS', '1e2'], ['CLUSTER_PARTITIONS', '-1'], ['CLUSTER_LEASE_MS', '2999'], ['CLUSTER_LEASE_MS', '0x10'], ['CLUSTER_MEMBER_ID', 'a b'], ['CLUSTER_ADVERTISE_URL', 'senpai:8892']] as const) {
      expect(() => loadConfig({ USE_JETSTREAM: 'true', [k]: v }), `${k}=${v}`).toThrow(new RegExp(`invalid ${k}=`));
    }
  });
});
