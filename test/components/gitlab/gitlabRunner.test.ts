import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  DEFAULT_MAINTENANCE_NOTE,
  createRunnerRequest,
  diffRunner,
  gitlabRunnerProvider,
  runnerAttributes,
  runnerSettings,
  type RunnerInputs,
  type RunnerState,
} from "../../../components/gitlab/gitlabRunner";
import { startFakeGitLab, type FakeGitLab } from "./fakeGitLab";

const ACCESS_TOKEN = "glpat-runner-lifecycle-test-token";

describe("gitlabRunner: defaults, request body and diff", () => {
  it("applies the documented defaults", () => {
    const instance = runnerSettings({ accessToken: "t", scope: { instance: true } }, "my-runner");
    assert.deepEqual(instance, {
      runnerType: "instance_type",
      description: "my-runner",
      tagList: [],
      runUntagged: true,
      accessLevel: "not_protected",
      paused: false,
      maintenanceNote: DEFAULT_MAINTENANCE_NOTE,
    });
    const tagged = runnerSettings({ accessToken: "t", scope: { groupId: 3 }, tags: ["fargate"] }, "n");
    assert.equal(tagged.runUntagged, false, "tagged runners do not pick untagged jobs by default");
    assert.equal(tagged.groupId, 3);
    assert.equal(tagged.locked, undefined, "locked is only for project runners");
    const project = runnerSettings({ accessToken: "t", scope: { projectId: 9 } }, "n");
    assert.equal(project.runnerType, "project_type");
    assert.equal(project.locked, true, "project runners are locked to their project by default");
  });

  it("builds the POST body in GitLab's field names, without unset optional fields", () => {
    const settings = runnerSettings(
      { accessToken: "t", scope: { projectId: 9 }, tags: ["a"], maximumTimeout: 1800, description: "d" },
      "n",
    );
    assert.deepEqual(createRunnerRequest(settings), {
      runner_type: "project_type",
      project_id: 9,
      description: "d",
      paused: false,
      run_untagged: false,
      tag_list: ["a"],
      access_level: "not_protected",
      maximum_timeout: 1800,
      maintenance_note: DEFAULT_MAINTENANCE_NOTE,
      locked: true,
    });
    const noTimeout = createRunnerRequest(runnerSettings({ accessToken: "t", scope: { instance: true } }, "n"));
    assert.equal("maximum_timeout" in noTimeout, false);
  });

  it("sends maximum_timeout: null only to clear a timeout that was removed", () => {
    const base = runnerSettings({ accessToken: "t", scope: { instance: true } }, "n");
    assert.equal("maximum_timeout" in runnerAttributes(base, base), false);
    assert.equal(runnerAttributes(base, { ...base, maximumTimeout: 3600 }).maximum_timeout, null);
    assert.equal(runnerAttributes({ ...base, maximumTimeout: 900 }, base).maximum_timeout, 900);
  });

  const olds: RunnerState = {
    url: "https://gitlab.example.com",
    accessToken: "t1",
    ...runnerSettings({ accessToken: "t1", scope: { groupId: 42 }, tags: ["a", "b"] }, "r"),
    runnerId: 5,
    token: "glrt-x",
  };
  const news = (change: Partial<RunnerInputs>): RunnerInputs => {
    const { runnerId: _id, token: _token, ...inputs } = olds;
    return { ...inputs, ...change };
  };

  it("reports no change for equal inputs, reordered tags or a trailing slash on the URL", () => {
    assert.deepEqual(diffRunner(olds, news({})), { changes: false, replaces: [], deleteBeforeReplace: false });
    assert.equal(diffRunner(olds, news({ tagList: ["b", "a"] })).changes, false);
    assert.equal(diffRunner(olds, news({ url: "https://gitlab.example.com/" })).changes, false);
  });

  it("keeps a runner stored before URLs were normalised: the same GitLab written differently is no change", () => {
    for (const url of ["https://GitLab.Example.com:443/", "https://gitlab.example.com//"]) {
      assert.equal(diffRunner({ ...olds, url }, news({})).changes, false, url);
    }
  });

  it("updates in place when description, tags, flags, timeout or the access token change", () => {
    const changes: Partial<RunnerInputs>[] = [
      { description: "new" },
      { tagList: ["a"] },
      { runUntagged: true },
      { accessLevel: "ref_protected" },
      { maximumTimeout: 3600 },
      { paused: true },
      { maintenanceNote: "n" },
      { accessToken: "t2" },
    ];
    for (const change of changes) {
      const diff = diffRunner(olds, news(change));
      assert.equal(diff.changes, true, JSON.stringify(change));
      assert.deepEqual(diff.replaces, [], JSON.stringify(change));
    }
  });

  it("replaces the runner when the scope or GitLab itself changes", () => {
    assert.deepEqual(diffRunner(olds, news({ groupId: 43 })).replaces, ["groupId"]);
    const toProject = news({ runnerType: "project_type", groupId: undefined, projectId: 7, locked: true });
    assert.deepEqual(diffRunner(olds, toProject).replaces, ["runnerType", "groupId", "projectId"]);
    assert.deepEqual(diffRunner(olds, news({ url: "https://other.example.com" })).replaces, ["url"]);
  });
});

describe("gitlabRunner: the dynamic provider against a fake GitLab", () => {
  let gitlab: FakeGitLab;
  let inputs: RunnerInputs;

  beforeEach(async () => {
    gitlab = await startFakeGitLab({ accessToken: ACCESS_TOKEN, groups: [42], projects: [7] });
    inputs = {
      url: gitlab.url,
      accessToken: ACCESS_TOKEN,
      ...runnerSettings({ accessToken: ACCESS_TOKEN, scope: { groupId: 42 }, tags: ["fargate"] }, "ci-runner"),
    };
  });
  afterEach(() => gitlab.close());

  it("create → update → refresh → delete → delete again, like pulumi up / up / refresh / destroy", async () => {
    const created = await gitlabRunnerProvider.create(inputs);
    const state = created.outs as RunnerState;
    const runner = gitlab.runners.get(Number(created.id));
    assert.ok(runner, "the runner exists in GitLab");
    assert.equal(state.runnerId, runner.id);
    assert.equal(state.token, runner.token, "the glrt- token GitLab returned is the output");
    assert.equal(state.accessToken, ACCESS_TOKEN, "the access token is kept for update and destroy");
    assert.deepEqual(gitlab.requests[0].body, createRunnerRequest(inputs));
    assert.equal(runner.run_untagged, false);
    assert.deepEqual(runner.tag_list, ["fargate"]);

    const changed: RunnerInputs = { ...inputs, description: "renamed", tagList: ["fargate", "big"], paused: true };
    assert.deepEqual(await gitlabRunnerProvider.diff!(created.id, state, changed), {
      changes: true,
      replaces: [],
      deleteBeforeReplace: false,
    });
    const updated = await gitlabRunnerProvider.update!(created.id, state, changed);
    const put = gitlab.requests[1];
    assert.equal(put.method, "PUT");
    assert.equal(put.path, `/api/v4/runners/${created.id}`);
    assert.deepEqual(put.body, {
      description: "renamed",
      paused: true,
      run_untagged: false,
      tag_list: ["fargate", "big"],
      access_level: "not_protected",
      maintenance_note: DEFAULT_MAINTENANCE_NOTE,
    });
    assert.equal(runner.description, "renamed");
    const updatedState = updated.outs as RunnerState;
    assert.equal(updatedState.token, state.token, "an update keeps the runner and its token");
    assert.equal(updatedState.runnerId, state.runnerId);

    runner.description = "edited in the GitLab UI";
    const read = await gitlabRunnerProvider.read!(created.id, updatedState);
    assert.equal(read.id, created.id);
    assert.equal((read.props as RunnerState).description, "edited in the GitLab UI");
    assert.equal((read.props as RunnerState).token, state.token);
    assert.equal(diffRunner(read.props as RunnerState, changed).changes, true, "the next up puts it back");

    await gitlabRunnerProvider.delete!(created.id, updatedState);
    assert.equal(gitlab.runners.size, 0);
    await gitlabRunnerProvider.delete!(created.id, updatedState);
    const deletes = gitlab.requests.filter((r) => r.method === "DELETE");
    assert.equal(deletes.length, 2, "the second destroy asked GitLab too, and its 404 counted as done");
    assert.deepEqual(await gitlabRunnerProvider.read!(created.id, updatedState), { id: "", props: {} });
  });

  it("removing maximumTimeout clears it in GitLab", async () => {
    const created = await gitlabRunnerProvider.create({ ...inputs, maximumTimeout: 3600 });
    const runner = gitlab.runners.get(Number(created.id));
    assert.equal(runner?.maximum_timeout, 3600);
    await gitlabRunnerProvider.update!(created.id, created.outs, inputs);
    assert.equal((gitlab.requests[1].body as Record<string, unknown>).maximum_timeout, null);
    assert.equal(runner?.maximum_timeout, null);
  });

  it("update uses the new access token, so a rotated token is stored for destroy", async () => {
    const created = await gitlabRunnerProvider.create(inputs);
    gitlab.failNext(200, {});
    const updated = await gitlabRunnerProvider.update!(created.id, created.outs, {
      ...inputs,
      accessToken: "glpat-rotated",
    });
    assert.equal(gitlab.requests[1].headers["private-token"], "glpat-rotated");
    assert.equal((updated.outs as RunnerState).accessToken, "glpat-rotated");
  });

  it("GitLab's validation errors reach the user with the option to fix", async () => {
    await assert.rejects(
      gitlabRunnerProvider.create({ ...inputs, maximumTimeout: 60 }),
      /maximum_timeout needs to be at least 10 minutes.*gitlab\.createRunner/,
    );
    await assert.rejects(
      gitlabRunnerProvider.create({ ...inputs, runnerType: "project_type", groupId: undefined, projectId: 999 }),
      /Project 999 does not exist or is not visible/,
    );
  });

  it("still works after Pulumi's closure serialization, as it runs under `pulumi up`", async () => {
    const serialized = await pulumi.runtime.serializeFunction(() => gitlabRunnerProvider);
    assert.ok(!serialized.text.includes(ACCESS_TOKEN), "the serialized provider holds no token");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gitlab-runner-provider-"));
    try {
      const file = path.join(dir, "provider.js");
      fs.writeFileSync(file, serialized.text);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const revived = require(file).handler() as pulumi.dynamic.ResourceProvider;
      const created = await revived.create(inputs);
      assert.ok(gitlab.runners.has(Number(created.id)));
      await revived.delete!(created.id, created.outs);
      assert.equal(gitlab.runners.size, 0);
      gitlab.failNext(401, { message: "401 Unauthorized" });
      await assert.rejects(revived.create(inputs), /access token was rejected.*wrong, expired or revoked/);
    } finally {
      delete require.cache[path.join(dir, "provider.js")];
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
