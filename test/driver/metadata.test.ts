import { strict as assert } from "node:assert";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MetadataStore } from "../../driver/metadata";
import { expectFailure } from "./expectFailure";

describe("driver metadata file", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "driver-meta-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const job = { id: "1", binding: "binding-of-job-1" };
  const record = {
    cluster: "c",
    taskArn: "arn:t",
    startedBy: "gitlab-job-1",
    jobId: "1",
    privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----",
    createdAt: "2026-01-01T00:00:00.000Z",
  };

  it("writes atomically with mode 0600 in a 0700 directory, replaces, reads back and removes", () => {
    const store = new MetadataStore(join(dir, "meta"), job);
    assert.equal(store.read(), undefined);
    store.create(record);
    store.update({ ...record, host: "10.0.0.1" });
    assert.equal(statSync(store.path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "meta")).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(join(dir, "meta")), ["gitlab-job-1.json"], "no temp files left");
    assert.equal(store.read()?.host, "10.0.0.1");
    assert.equal(store.remove(), true);
    assert.equal(store.remove(), false);
  });

  it("creates a file only when none exists, leaving the existing one as it was", () => {
    const store = new MetadataStore(dir, job);
    store.create(record);
    expectFailure(() => store.create({ ...record, taskArn: "arn:other" }), /cannot write job metadata/);
    assert.equal(store.read()?.taskArn, "arn:t");
    assert.deepEqual(readdirSync(dir), ["gitlab-job-1.json"], "no temp files left");
  });

  it("refuses a file another job wrote under the same name", () => {
    new MetadataStore(dir, { id: "1", binding: "another-job" }).create(record);
    expectFailure(() => new MetadataStore(dir, job).read(), /belongs to another job/);
  });

  it("tightens an existing directory that is open to group or others to 0700", () => {
    const shared = join(dir, "shared");
    mkdirSync(shared, { mode: 0o755 });
    chmodSync(shared, 0o755); // regardless of the umask
    new MetadataStore(shared, job).create(record);
    assert.equal(statSync(shared).mode & 0o777, 0o700);
  });

  it("names a corrupt file, and an older driver's file counts as corrupt", () => {
    const store = new MetadataStore(dir, job);
    writeFileSync(store.path, "{not json");
    expectFailure(() => store.read(), /job metadata .*gitlab-job-1\.json is corrupt/);
    writeFileSync(store.path, JSON.stringify({ ...record, version: 1 }));
    expectFailure(() => store.read(), /is corrupt/);
  });
});
