import { strict as assert } from "node:assert";
import { once } from "node:events";
import { createServer, Server, Socket } from "node:net";
import { Cancelled } from "../../driver/errors";
import { waitUntilListening } from "../../driver/portProbe";
import { freePort, startLocalSshd } from "../support/localSshd";
import { missingLocalSshd, skipUnlessAvailable } from "../support/requirements";

/** A TCP server that greets every connection with `greeting(n)` (n counts connections from 1). */
async function listen(port: number, greeting: (n: number) => string = () => "SSH-2.0-test\r\n"): Promise<Server> {
  let connections = 0;
  const server = createServer((socket) => {
    socket.on("error", () => undefined);
    socket.resume(); // read what the probe says, so that its hang-up ends the connection
    socket.write(greeting(++connections));
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  return server;
}

const fast = { intervalMs: 20, maxIntervalMs: 20, attemptTimeoutMs: 500 };

describe("waiting for a task's sshd to greet (no login)", function () {
  this.timeout(10_000);
  let server: Server | undefined;
  afterEach(() => server?.close());

  it("keeps trying while the port refuses, resolves once sshd greets, and closes its connection", async () => {
    const port = await freePort();
    let listening = false;
    const waited = waitUntilListening("127.0.0.1", port, new AbortController().signal, fast).then(() => listening);
    await new Promise((resolve) => setTimeout(resolve, 150));
    server = await listen(port);
    listening = true;
    const [connection] = (await once(server, "connection")) as [Socket];
    assert.equal(await waited, true, "resolved only after the port listened");
    await once(connection, "close");
  });

  it("does not take another server on the port for sshd", async () => {
    const port = await freePort();
    const greetings: string[] = [];
    server = await listen(port, (n) => {
      const line = n <= 2 ? "HTTP/1.1 400 Bad Request\r\n" : "SSH-2.0-test\r\n";
      greetings.push(line);
      return line;
    });
    await waitUntilListening("127.0.0.1", port, new AbortController().signal, fast);
    assert.equal(greetings.length, 3);
  });

  it("rejects with Cancelled when aborted while the port refuses", async () => {
    const port = await freePort();
    const controller = new AbortController();
    const waited = waitUntilListening("127.0.0.1", port, controller.signal, {
      intervalMs: 1000,
      maxIntervalMs: 1000,
      attemptTimeoutMs: 500,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    await assert.rejects(waited, Cancelled);
  });

  it("rejects with Cancelled when aborted while a connection waits for a greeting that never comes", async () => {
    const port = await freePort();
    server = await listen(port, () => "");
    const controller = new AbortController();
    const waited = waitUntilListening("127.0.0.1", port, controller.signal, {
      intervalMs: 20,
      maxIntervalMs: 20,
      attemptTimeoutMs: 60_000,
    });
    await once(server, "connection");
    controller.abort();
    await assert.rejects(waited, Cancelled);
  });

  it("greets a real sshd back before hanging up, so sshd logs no error about it", async function () {
    skipUnlessAvailable(this, missingLocalSshd());
    const sshd = await startLocalSshd();
    try {
      // startLocalSshd waited with the same probe: its connection is the first one sshd logs.
      await waitUntilListening(sshd.host, sshd.port, new AbortController().signal);
      const closedLines = () => sshd.log().match(/Connection closed by 127\.0\.0\.1 port \d+ \[preauth\]/g) ?? [];
      for (let i = 0; i < 100 && closedLines().length < 2; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(closedLines().length, 2, sshd.log());
      assert.doesNotMatch(sshd.log(), /kex_exchange_identification|error/i);
    } finally {
      await sshd.stop();
    }
  });
});
