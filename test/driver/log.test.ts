import { strict as assert } from "node:assert";
import { formatLogLine } from "../../driver/log";

describe("driver log lines", () => {
  it("formats log lines as text, text-simple and json", () => {
    const time = new Date("2026-01-02T03:04:05.000Z");
    assert.equal(formatLogLine("warn", "text-simple", "hi", { a: 1 }, time), "hi a=1");
    assert.equal(formatLogLine("info", "text", "hi", {}, time), 'time="2026-01-02T03:04:05.000Z" level=info msg="hi"');
    assert.deepEqual(JSON.parse(formatLogLine("error", "json", "hi", { a: "b" }, time)), {
      time: "2026-01-02T03:04:05.000Z",
      level: "error",
      msg: "hi",
      a: "b",
    });
  });
});
