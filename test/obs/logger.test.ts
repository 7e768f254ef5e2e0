import { describe, expect, it } from 'vitest';
import { createLogger, prettyPrinterPath } from '../../src/obs/logger.js';

describe('createLogger', () => {
  it('finds pino-pretty from its own module when it is installed', () => {
    expect(prettyPrinterPath()).toMatch(/pino-pretty/);
  });

  it('falls back to JSON when pino-pretty is not installed (an install without optional dependencies)', () => {
    const missing = () => {
      throw Object.assign(new Error("Cannot find module 'pino-pretty'"), { code: 'MODULE_NOT_FOUND' });
    };
    expect(prettyPrinterPath(missing)).toBeNull();
  });

  it('logs JSON when asked for no pretty printing', () => {
    const log = createLogger('silent', { pretty: false });
    expect(log.level).toBe('silent');
  });
});
