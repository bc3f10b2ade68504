import { strict as assert } from "node:assert";
import { parseFargateToml } from "../../driver/contract/fargateToml";
import { JobError, SystemFailure } from "../../driver/errors";
import {
  defaultServiceHostnames,
  globMatches,
  imageRepository,
  jobContainers,
  parseJobServices,
  registryHost,
} from "../../driver/jobImages";

const BASE = `[Fargate]\nCluster = "c"\nSubnet = "subnet-0a0a0a0a"\nTaskDefinition = "ci:1"\n`;
const fargate = (extra = "") => parseFargateToml(`${BASE}${extra}`, "f.toml").fargate;
const services = (items: unknown[]) => ({ CUSTOM_ENV_CI_JOB_SERVICES: JSON.stringify(items) });

describe("a job's image and services", () => {
  it("matches globs: * spans any characters including /, ? one character, the rest literally", () => {
    assert.ok(globMatches("*", "registry.example.com:5000/group/app:1"));
    assert.ok(globMatches("ruby:*", "ruby:3.3"));
    assert.ok(!globMatches("ruby:*", "jruby:3"));
    assert.ok(globMatches("registry.example.com/*", "registry.example.com/a/b:c"));
    assert.ok(!globMatches("registry.example.com/*", "registry.examplexcom/a"), ". is literal");
    assert.ok(globMatches("node:2?", "node:20"));
    assert.ok(!globMatches("node:2?", "node:200"));
    assert.ok(!globMatches("a+b", "aab"), "regex characters are literal");
  });

  it("names repositories, registries and the Docker executor's default service names", () => {
    assert.equal(imageRepository("registry:5000/group/app:1.2@sha256:abc"), "registry:5000/group/app");
    assert.equal(imageRepository("registry:5000/app"), "registry:5000/app");
    assert.equal(registryHost("postgres:15"), "docker.io");
    assert.equal(registryHost("library/postgres"), "docker.io");
    assert.equal(registryHost("ghcr.io/org/tool:1"), "ghcr.io");
    assert.equal(registryHost("localhost:5000/tool"), "localhost:5000");
    assert.deepEqual(defaultServiceHostnames("postgres:15"), ["postgres"]);
    assert.deepEqual(defaultServiceHostnames("library/postgres:15"), ["library__postgres", "library-postgres"]);
    assert.deepEqual(defaultServiceHostnames("registry.example.com:5000/group/redis:7"), [
      "registry.example.com__group__redis",
      "registry.example.com-group-redis",
    ]);
  });

  it("reads gitlab-runner's CI_JOB_SERVICES JSON: the alias plus the image's own names, entrypoint, command, variables", () => {
    const parsed = parseJobServices(
      JSON.stringify([
        {
          name: "postgres:15",
          alias: "db",
          entrypoint: null,
          command: ["postgres", "-c", "fsync=off"],
          variables: { POSTGRES_PASSWORD: "x" },
        },
        { name: "redis:7", alias: "", entrypoint: ["redis-server"], command: null, variables: null },
      ]),
    );
    assert.deepEqual(parsed, [
      {
        image: "postgres:15",
        hostnames: ["db", "postgres"],
        entrypoint: undefined,
        command: ["postgres", "-c", "fsync=off"],
        variables: { POSTGRES_PASSWORD: "x" },
      },
      { image: "redis:7", hostnames: ["redis"], entrypoint: ["redis-server"], command: undefined, variables: {} },
    ]);
    assert.deepEqual(parseJobServices(""), []);
    assert.deepEqual(parseJobServices(undefined), []);
    assert.throws(() => parseJobServices("{"), SystemFailure);
    assert.throws(() => parseJobServices(JSON.stringify([{ alias: "x" }])), /has no image name/);
    assert.throws(
      () => parseJobServices(JSON.stringify([{ name: "x", alias: "db;rm -rf /" }])),
      (err: unknown) => err instanceof JobError && /cannot be a host name/.test(err.message),
    );
  });

  it("ignores image and services, saying so, when the runner does not allow them (the Go driver's behaviour)", () => {
    const env = { CUSTOM_ENV_CI_JOB_IMAGE: "ruby:3.3", ...services([{ name: "postgres:15" }]) };
    const result = jobContainers(env, fargate());
    assert.equal(result.image, undefined);
    assert.deepEqual(result.services, []);
    assert.equal(result.notices.length, 2);
    assert.match(result.notices[0], /Ignoring image "ruby:3\.3".*AllowedImages/);
    assert.match(result.notices[1], /Ignoring services postgres:15.*AllowedServices/);
  });

  it("honours allowed images and services", () => {
    const env = { CUSTOM_ENV_CI_JOB_IMAGE: " ruby:3.3 ", ...services([{ name: "postgres:15", alias: "db" }]) };
    const result = jobContainers(env, fargate(`AllowedImages = ["ruby:*"]\nAllowedServices = ["postgres:*"]\n`));
    assert.equal(result.image, "ruby:3.3");
    assert.deepEqual(
      result.services.map((s) => [s.image, s.hostnames]),
      [["postgres:15", ["db", "postgres"]]],
    );
    assert.deepEqual(result.notices, []);
  });

  it("refuses an image or a service outside the lists, naming the patterns", () => {
    const settings = fargate(`AllowedImages = ["ruby:*"]\nAllowedServices = []\n`);
    assert.throws(
      () => jobContainers({ CUSTOM_ENV_CI_JOB_IMAGE: "evil/miner" }, settings),
      (err: unknown) =>
        err instanceof JobError &&
        /image "evil\/miner" is not allowed.*AllowedImages = \["ruby:\*"\]/.test(err.message),
    );
    assert.throws(
      () => jobContainers(services([{ name: "redis:7" }]), settings),
      (err: unknown) => err instanceof JobError && /service "redis:7".*AllowedServices = \[none\]/.test(err.message),
    );
  });

  it("reads nothing else of the services while they are ignored: a bad alias cannot fail the job then", () => {
    const env = services([{ name: "postgres:15", alias: "db:5432" }]);
    assert.deepEqual(jobContainers(env, fargate()).services, []);
    assert.throws(() => jobContainers(env, fargate(`AllowedServices = ["*"]\n`)), JobError);
  });

  it("treats an empty CI_JOB_IMAGE as no image", () => {
    assert.equal(jobContainers({ CUSTOM_ENV_CI_JOB_IMAGE: "" }, fargate(`AllowedImages = ["*"]\n`)).image, undefined);
  });
});
