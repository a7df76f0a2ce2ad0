import { describe, expect, it } from "vitest";
import { DeadlineQueue } from "../../src/wire/deadlines.js";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("DeadlineQueue", () => {
  it("fires each deadline once, no earlier than its duration, in order of expiry", async () => {
    const queue = new DeadlineQueue();
    const fired: { name: string; afterMs: number }[] = [];
    const start = performance.now();
    const add = (name: string, ms: number): void => {
      queue.add(ms, () => fired.push({ name, afterMs: performance.now() - start }));
    };
    add("c", 60);
    add("a", 20);
    add("b", 40);
    add("a2", 20);
    await sleep(120);
    expect(fired.map((f) => f.name)).toEqual(["a", "a2", "b", "c"]);
    for (const f of fired) {
      const due = { a: 20, a2: 20, b: 40, c: 60 }[f.name] as number;
      expect(f.afterMs).toBeGreaterThanOrEqual(due);
    }
    expect(queue.size).toBe(0);
  });

  it("a cancelled deadline does not fire, and cancelling twice or after firing is harmless", async () => {
    const queue = new DeadlineQueue();
    const fired: string[] = [];
    const first = queue.add(20, () => fired.push("first"));
    const second = queue.add(30, () => fired.push("second"));
    const third = queue.add(10, () => fired.push("third"));
    first.cancel();
    first.cancel();
    expect(queue.size).toBe(2);
    await sleep(60);
    expect(fired).toEqual(["third", "second"]);
    second.cancel();
    third.cancel();
    expect(queue.size).toBe(0);
  });

  it("re-arms for a deadline earlier than the one armed, and for the rest after the earliest is cancelled", async () => {
    const queue = new DeadlineQueue();
    const fired: string[] = [];
    const late = queue.add(200, () => fired.push("late"));
    const early = queue.add(15, () => fired.push("early"));
    const middle = queue.add(30, () => fired.push("middle"));
    early.cancel();
    await sleep(60);
    expect(fired).toEqual(["middle"]);
    late.cancel();
    expect(middle.at).toBeLessThan(late.at);
  });

  it("a deadline added while others fire is kept", async () => {
    const queue = new DeadlineQueue();
    const fired: string[] = [];
    queue.add(10, () => {
      fired.push("first");
      queue.add(10, () => fired.push("added"));
    });
    queue.add(12, () => fired.push("second"));
    await sleep(60);
    expect(fired).toEqual(["first", "second", "added"]);
  });

  it("holds no timer once nothing waits (the process may exit)", () => {
    const queue = new DeadlineQueue();
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    const a = queue.add(10_000, () => undefined);
    const b = queue.add(20_000, () => undefined);
    expect(timers()).toBe(before + 1);
    a.cancel();
    expect(timers()).toBe(before + 1);
    b.cancel();
    expect(timers()).toBe(before);
  });
});
