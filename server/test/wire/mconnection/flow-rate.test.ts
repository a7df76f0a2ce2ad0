import { describe, expect, it } from "vitest";
import { FlowMonitor, FlowRateLimiter } from "../../../src/wire/mconnection/flow-rate.js";
import { FakeClock } from "./fake-clock.js";

describe("FlowMonitor", () => {
  it("lets bytes through until the sample holds rate x 0.1 s, then waits for the next sample", () => {
    const clock = new FakeClock();
    const monitor = new FlowMonitor({ clock });
    const rate = 10_000; // 1000 bytes per 100 ms sample
    expect(monitor.limitDelayMs(rate)).toBe(0);
    monitor.update(999);
    expect(monitor.limitDelayMs(rate)).toBe(0);
    monitor.update(1);
    expect(monitor.limitDelayMs(rate)).toBe(100);
    clock.advance(30);
    expect(monitor.limitDelayMs(rate)).toBe(70);
    clock.advance(68);
    expect(monitor.limitDelayMs(rate)).toBe(5); // flowrate never sleeps under 5 ms
    clock.advance(2);
    expect(monitor.limitDelayMs(rate)).toBe(0); // the sample closed
    expect(monitor.currentSampleBytes).toBe(0);
  });

  it("treats a rate of 0 or below as unlimited", () => {
    const clock = new FakeClock();
    const monitor = new FlowMonitor({ clock });
    monitor.update(1e9);
    expect(monitor.limitDelayMs(0)).toBe(0);
    expect(monitor.limitDelayMs(-5)).toBe(0);
    expect(monitor.limitDelayMs(1)).toBeGreaterThan(0); // at least 1 byte per sample
  });

  it("reports totals, sample rate, moving average and peak", () => {
    const clock = new FakeClock();
    const monitor = new FlowMonitor({ clock });
    monitor.update(500);
    clock.advance(100);
    monitor.update(0); // closes the first sample: 5000 B/s
    let s = monitor.status();
    expect(s.bytes).toBe(500);
    expect(s.samples).toBe(1);
    expect(s.instRateBytesPerSecond).toBe(5000);
    expect(s.curRateBytesPerSecond).toBe(5000);
    expect(s.durationMs).toBe(100);
    monitor.update(100);
    clock.advance(100);
    s = monitor.status(); // second sample: 1000 B/s, EMA weight exp(-0.1)
    expect(s.bytes).toBe(600);
    expect(s.instRateBytesPerSecond).toBe(1000);
    expect(s.curRateBytesPerSecond).toBe(Math.round(1000 + Math.exp(-0.1) * 4000));
    expect(s.peakRateBytesPerSecond).toBe(5000);
    expect(s.avgRateBytesPerSecond).toBe(3000);
    clock.advance(50);
    expect(monitor.status().idleMs).toBe(150);
  });
});

describe("FlowRateLimiter", () => {
  it("arms one timer when over the limit and calls back when the sample closes", () => {
    const clock = new FakeClock();
    const monitor = new FlowMonitor({ clock });
    let ready = 0;
    const limiter = new FlowRateLimiter(monitor, 10_000, clock, () => ready++);
    expect(limiter.ready()).toBe(true);
    monitor.update(1000);
    expect(limiter.ready()).toBe(false);
    expect(limiter.ready()).toBe(false);
    expect(clock.pendingTimers).toBe(1);
    expect(limiter.waiting).toBe(true);
    clock.advance(99);
    expect(ready).toBe(0);
    clock.advance(1);
    expect(ready).toBe(1);
    expect(limiter.ready()).toBe(true);
  });

  it("cancel disarms the wait", () => {
    const clock = new FakeClock();
    const monitor = new FlowMonitor({ clock });
    let ready = 0;
    const limiter = new FlowRateLimiter(monitor, 10, clock, () => ready++);
    monitor.update(5);
    expect(limiter.ready()).toBe(false);
    limiter.cancel();
    expect(clock.pendingTimers).toBe(0);
    clock.advance(1000);
    expect(ready).toBe(0);
  });
});
