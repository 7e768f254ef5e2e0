import { describe, expect, it } from 'vitest';
import { ForgetFanOut } from '../../src/output/output-port.js';
import { offlineService } from '../helpers/service.js';

describe('ForgetFanOut', () => {
  it('tells every listener, reports one that throws, and never calls with an empty list', () => {
    const errors: unknown[] = [];
    const heard: string[][] = [];
    const fan = new ForgetFanOut((err) => errors.push(err))
      .add(() => {
        throw new Error('listener bug');
      })
      .add((symbols) => heard.push([...symbols]));
    fan.tell(['AAA', 'BBB']);
    fan.tell([]);
    expect(heard).toEqual([['AAA', 'BBB']]);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('listener bug');
  });

  it('is what the service hands eviction: a throwing listener does not break it, the next one still hears', async () => {
    const service = offlineService();
    const heard: string[] = [];
    service.views.onForgotten(() => {
      throw new Error('listener bug');
    });
    service.views.onForgotten((symbols) => heard.push(...symbols));
    const t = Date.now() - 1000;
    service.pipeline.offer('md.events.trade.AAA', new TextEncoder().encode(JSON.stringify({ type: 'trade', provider: 'p', symbol: 'AAA', price: 1, size: 1, trade_id: '1', ts_exchange: t })), null);
    await service.pipeline.idle();
    expect(service.pipeline.evictIdle(Date.now() + 1000, 0)).toEqual(['AAA']);
    expect(heard).toEqual(['AAA']);
    expect(service.engine.symbols.size).toBe(0);
    await service.http.close();
  });
});
