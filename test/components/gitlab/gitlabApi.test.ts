import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import type { AddressInfo } from "node:net";
import {
  apiUrl,
  createUserRunner,
  deleteRunner,
  describeFailure,
  getRunner,
  updateRunner,
  type GitLabApiError,
  type GitLabConnection,
} from "../../../components/gitlab/gitlabApi";
import { missingCommand, skipUnlessAvailable } from "../../support/requirements";
import { startFakeGitLab, type FakeGitLab } from "./fakeGitLab";

const ACCESS_TOKEN = "glpat-test-access-token-0123456789";

async function rejection(promise: Promise<unknown>): Promise<GitLabApiError> {
  try {
    await promise;
  } catch (error) {
    return error as GitLabApiError;
  }
  assert.fail("expected the call to fail");
}

describe("gitlabApi: the GitLab REST client", () => {
  let gitlab: FakeGitLab;
  let conn: GitLabConnection;

  beforeEach(async () => {
    gitlab = await startFakeGitLab({ accessToken: ACCESS_TOKEN, groups: [42], projects: [7] });
    conn = { url: gitlab.url, accessToken: ACCESS_TOKEN };
  });
  afterEach(() => gitlab.close());

  describe("requests", () => {
    it("creates a group runner with POST /api/v4/user/runners, PRIVATE-TOKEN and a JSON body", async () => {
      const created = await createUserRunner(conn, {
        runner_type: "group_type",
        group_id: 42,
        description: "fargate",
        tag_list: ["fargate", "aws"],
        run_untagged: false,
        access_level: "ref_protected",
        maximum_timeout: 3600,
        paused: true,
      });
      assert.equal(gitlab.requests.length, 1);
      const [request] = gitlab.requests;
      assert.equal(request.method, "POST");
      assert.equal(request.path, "/api/v4/user/runners");
      assert.equal(request.headers["private-token"], ACCESS_TOKEN);
      assert.equal(request.headers["content-type"], "application/json");
      assert.deepEqual(request.body, {
        runner_type: "group_type",
        group_id: 42,
        description: "fargate",
        tag_list: ["fargate", "aws"],
        run_untagged: false,
        access_level: "ref_protected",
        maximum_timeout: 3600,
        paused: true,
      });
      const stored = gitlab.runners.get(created.id);
      assert.ok(stored, "the fake GitLab holds the new runner");
      assert.equal(created.token, stored.token);
      assert.match(created.token, /^glrt-/);
      assert.equal(created.tokenExpiresAt, null);
    });

    it("sends project_id for a project runner and nothing extra for an instance runner", async () => {
      await createUserRunner(conn, { runner_type: "project_type", project_id: 7, locked: true });
      await createUserRunner(conn, { runner_type: "instance_type" });
      assert.deepEqual(gitlab.requests[0].body, { runner_type: "project_type", project_id: 7, locked: true });
      assert.deepEqual(gitlab.requests[1].body, { runner_type: "instance_type" });
    });

    it("keeps the sub-path GitLab is served under", async () => {
      const sub = await startFakeGitLab({ accessToken: ACCESS_TOKEN, pathPrefix: "/gitlab" });
      try {
        await createUserRunner({ url: `${sub.url}/`, accessToken: ACCESS_TOKEN }, { runner_type: "instance_type" });
        assert.equal(sub.requests[0].path, "/gitlab/api/v4/user/runners");
      } finally {
        await sub.close();
      }
      assert.equal(
        apiUrl("https://example.com/gitlab", "runners/5").href,
        "https://example.com/gitlab/api/v4/runners/5",
      );
    });

    it("updates a runner with PUT /api/v4/runners/:id and the new attributes", async () => {
      const { id } = await createUserRunner(conn, { runner_type: "group_type", group_id: 42, description: "old" });
      await updateRunner(conn, id, { description: "new", tag_list: ["x"], maximum_timeout: null });
      const put = gitlab.requests[1];
      assert.equal(put.method, "PUT");
      assert.equal(put.path, `/api/v4/runners/${id}`);
      assert.equal(put.headers["private-token"], ACCESS_TOKEN);
      assert.deepEqual(put.body, { description: "new", tag_list: ["x"], maximum_timeout: null });
      assert.equal(gitlab.runners.get(id)?.description, "new");
    });

    it("reads a runner, and reports a runner GitLab no longer knows as undefined", async () => {
      const { id } = await createUserRunner(conn, { runner_type: "instance_type", description: "seen" });
      const details = await getRunner(conn, id);
      assert.equal(details?.description, "seen");
      assert.equal(gitlab.requests[1].method, "GET");
      gitlab.runners.clear();
      assert.equal(await getRunner(conn, id), undefined);
    });

    it("deletes with DELETE /api/v4/runners/:id, and deleting it again succeeds as already gone", async () => {
      const { id } = await createUserRunner(conn, { runner_type: "instance_type" });
      assert.equal(await deleteRunner(conn, id), "deleted");
      assert.equal(gitlab.runners.has(id), false);
      assert.equal(await deleteRunner(conn, id), "already-gone");
      const deletes = gitlab.requests.filter((r) => r.method === "DELETE");
      assert.deepEqual(
        deletes.map((r) => r.path),
        [`/api/v4/runners/${id}`, `/api/v4/runners/${id}`],
      );
    });
  });

  describe("errors: one message with cause and fix, never a token", () => {
    const cases: {
      title: string;
      status: number;
      body: unknown;
      call: (c: GitLabConnection) => Promise<unknown>;
      expect: RegExp[];
    }[] = [
      {
        title: "401 on create: token invalid or expired, make a new one",
        status: 401,
        body: { message: "401 Unauthorized" },
        call: (c) => createUserRunner(c, { runner_type: "group_type", group_id: 42 }),
        expect: [/create the GitLab runner \(group 42\)/, /401/, /wrong, expired or revoked/, /create_runner/],
      },
      {
        title: "401 on delete: store a fresh token with pulumi up first",
        status: 401,
        body: { error: "invalid_token", error_description: "Token has expired." },
        call: (c) => deleteRunner(c, 5),
        expect: [/delete the GitLab runner \(runner #5\)/, /Token has expired/, /pulumi up/],
      },
      {
        title: "403 insufficient scope on create: create_runner scope",
        status: 403,
        body: { error: "insufficient_scope", error_description: "The request requires higher privileges" },
        call: (c) => createUserRunner(c, { runner_type: "project_type", project_id: 7 }),
        expect: [/create the GitLab runner \(project 7\)/, /lacks the create_runner scope/, /accessToken/],
      },
      {
        title: "403 on update: manage_runner scope and role",
        status: 403,
        body: { message: "403 Forbidden" },
        call: (c) => updateRunner(c, 9, { description: "d" }),
        expect: [/update the GitLab runner \(runner #9\)/, /manage_runner scope/, /Maintainer role/],
      },
      {
        title: "403 on create without a scope error: the user's role",
        status: 403,
        body: { message: "403 Forbidden" },
        call: (c) => createUserRunner(c, { runner_type: "group_type", group_id: 42 }),
        expect: [/Owner role in group 42/, /create_runner scope/],
      },
      {
        title: "403 insufficient scope on delete: manage_runner scope",
        status: 403,
        body: {
          error: "insufficient_scope",
          error_description: "The request requires higher privileges",
          scope: "api",
        },
        call: (c) => deleteRunner(c, 9),
        expect: [/lacks the manage_runner scope/, /pulumi up/],
      },
      {
        title: "404 on create: group not found or not visible",
        status: 404,
        body: { message: "404 Group Not Found" },
        call: (c) => createUserRunner(c, { runner_type: "group_type", group_id: 4242 }),
        expect: [/Group 4242 does not exist or is not visible/, /404 Group Not Found/, /gitlab\.createRunner\.scope/],
      },
      {
        title: "404 on update: deleted outside Pulumi, refresh",
        status: 404,
        body: { message: "404 Not found" },
        call: (c) => updateRunner(c, 11, { paused: true }),
        expect: [/Runner #11 no longer exists/, /pulumi refresh/],
      },
      {
        title: "409: conflict, run again",
        status: 409,
        body: { message: "409 Conflict" },
        call: (c) => createUserRunner(c, { runner_type: "instance_type" }),
        expect: [/conflict/, /409 Conflict/, /run `pulumi up` again/],
      },
      {
        title: "400: GitLab's field messages are shown",
        status: 400,
        body: { message: { maximum_timeout: ["needs to be at least 10 minutes"], tags_list: ["can not be empty"] } },
        call: (c) => createUserRunner(c, { runner_type: "instance_type" }),
        expect: [/maximum_timeout needs to be at least 10 minutes; tags_list can not be empty/, /gitlab\.createRunner/],
      },
      {
        title: "400 with {error}: shown too",
        status: 400,
        body: { error: "runner_type does not have a valid value" },
        call: (c) => createUserRunner(c, { runner_type: "instance_type" }),
        expect: [/runner_type does not have a valid value/],
      },
      {
        title: "5xx: server error, retry later",
        status: 502,
        body: "<html>Bad Gateway</html>",
        call: (c) => deleteRunner(c, 3),
        expect: [/HTTP 502 Bad Gateway\)/, /server error/, /retry later/],
      },
      {
        title: "429: rate limited",
        status: 429,
        body: { message: "Retry later" },
        call: (c) => createUserRunner(c, { runner_type: "instance_type" }),
        expect: [/rate limiting/],
      },
    ];

    for (const c of cases) {
      it(c.title, async () => {
        gitlab.failNext(c.status, c.body);
        const error = await rejection(c.call(conn));
        assert.equal(error.status, c.status);
        for (const pattern of c.expect) assert.match(error.message, pattern);
        assert.ok(error.message.includes(gitlab.host), `names the host: ${error.message}`);
        assert.ok(!error.message.includes(ACCESS_TOKEN), "never shows the access token");
      });
    }

    it("a 404 on delete is success, any other failure on delete is reported", async () => {
      gitlab.failNext(404, { message: "404 Not found" });
      assert.equal(await deleteRunner(conn, 77), "already-gone");
      gitlab.failNext(500, { message: "500 Internal Server Error" });
      await rejection(deleteRunner(conn, 77));
    });

    it("redacts the access token if GitLab's message happens to contain it", async () => {
      gitlab.failNext(400, { message: `token ${ACCESS_TOKEN} is malformed` });
      const error = await rejection(createUserRunner(conn, { runner_type: "instance_type" }));
      assert.match(error.message, /token \[redacted\] is malformed/);
      assert.ok(!error.message.includes(ACCESS_TOKEN));
    });

    it("a real 401 from a wrong token (the fake checks PRIVATE-TOKEN)", async () => {
      const error = await rejection(
        createUserRunner({ url: gitlab.url, accessToken: "glpat-wrong" }, { runner_type: "instance_type" }),
      );
      assert.equal(error.status, 401);
      assert.ok(!error.message.includes("glpat-wrong"));
    });

    it("does not follow a redirect (the token must not travel, POST must not become GET)", async () => {
      gitlab.failNext(301, undefined, { Location: "https://gitlab.example.com/api/v4/user/runners" });
      const error = await rejection(createUserRunner(conn, { runner_type: "instance_type" }));
      assert.equal(gitlab.requests.length, 1);
      assert.match(error.message, /redirected the request to https:\/\/gitlab\.example\.com/);
      assert.match(error.message, /Set gitlab\.url/);
    });

    it("a success answer without id and token is an error, not a runner", async () => {
      gitlab.failNext(201, { id: 5 });
      const error = await rejection(createUserRunner(conn, { runner_type: "instance_type" }));
      assert.match(error.message, /without a runner id and token/);
    });

    it("an unreachable GitLab names the host and what to check", async () => {
      const closed = http.createServer();
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
      const { port } = closed.address() as AddressInfo;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const error = await rejection(
        createUserRunner(
          { url: `http://127.0.0.1:${port}`, accessToken: ACCESS_TOKEN },
          { runner_type: "instance_type" },
        ),
      );
      assert.equal(error.status, undefined);
      assert.match(error.message, new RegExp(`Could not reach GitLab at 127\\.0\\.0\\.1:${port}`));
      assert.match(error.message, /ECONNREFUSED/);
      assert.match(error.message, /Check gitlab\.url/);
    });

    it("an untrusted TLS certificate (private CA) says how to trust it", async function () {
      skipUnlessAvailable(this, missingCommand("openssl", "apt-get install openssl"));
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gitlab-tls-"));
      const server = https.createServer();
      try {
        const key = path.join(dir, "key.pem");
        const cert = path.join(dir, "cert.pem");
        try {
          execFileSync(
            "openssl",
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert].concat([
              "-days",
              "1",
              "-subj",
              "/CN=127.0.0.1",
            ]),
            { stdio: "ignore" },
          );
        } catch {
          this.skip(); // no openssl on this machine
        }
        server.setSecureContext({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) });
        server.on("request", (_req, res) => res.end("{}"));
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const { port } = server.address() as AddressInfo;
        const error = await rejection(
          createUserRunner(
            { url: `https://127.0.0.1:${port}`, accessToken: ACCESS_TOKEN },
            { runner_type: "instance_type" },
          ),
        );
        assert.match(error.message, /does not trust GitLab's TLS certificate/);
        assert.match(error.message, /NODE_EXTRA_CA_CERTS/);
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it("a GitLab that never answers fails with a timeout message", async () => {
      gitlab.hangNext();
      const error = await rejection(deleteRunner({ ...conn, timeoutMs: 300 }, 1));
      assert.match(error.message, /Could not reach GitLab .* no answer within/);
    });

    it("describeFailure is pure and names the operation's own fix", () => {
      const base = { host: "gitlab.example.com", body: undefined, secrets: [] };
      const create = describeFailure({ ...base, operation: "create", target: "instance runner", status: 404 });
      assert.match(create, /GitLab is 16\.0 or newer/);
      const read = describeFailure({ ...base, operation: "read", target: "runner #3", status: 403 });
      assert.match(read, /manage_runner/);
    });
  });
});
