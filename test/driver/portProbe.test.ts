import { strict as assert } from "node:assert";
import { once } from "node:events";
import { createServer, Server, Socket } from "node:net";
import { Cancelled } from "../../driver/errors";
import { waitUntilListening } from "../../driver/portProbe";
import { freePort } from "../support/localSshd";

async function listen(port: number): Promise<Server> {
  const server = createServer((socket) => socket.on("error", () => undefined));
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  return server;
}

describe("waiting for a task's port to listen (TCP only)", function () {
  this.timeout(10_000);
  let server: Server | undefined;
  afterEach(() => server?.close());

  it("keeps trying while the port refuses, resolves once it listens, and closes its connection", async () => {
    const port = await freePort();
    let listening = false;
    const waited = waitUntilListening("127.0.0.1", port, new AbortController().signal, {
      intervalMs: 20,
      attemptTimeoutMs: 500,
    }).then(() => listening);
    await new Promise((resolve) => setTimeout(resolve, 150));
    server = await listen(port);
    listening = true;
    const [connection] = (await once(server, "connection")) as [Socket];
    assert.equal(await waited, true, "resolved only after the port listened");
    await once(connection, "close");
  });

  it("resolves at the first attempt when the port already listens", async () => {
    const port = await freePort();
    server = await listen(port);
    const connection = once(server, "connection");
    await waitUntilListening("127.0.0.1", port, new AbortController().signal);
    await connection;
  });

  it("rejects with Cancelled when aborted while the port refuses", async () => {
    const port = await freePort();
    const controller = new AbortController();
    const waited = waitUntilListening("127.0.0.1", port, controller.signal, {
      intervalMs: 1000,
      attemptTimeoutMs: 500,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    await assert.rejects(waited, Cancelled);
  });
});
