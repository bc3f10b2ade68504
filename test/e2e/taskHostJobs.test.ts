/**
 * Local Fargate's support for jobs with `image:` and `services:`: the harness passes them as gitlab-runner does,
 * the built driver registers its task definition in the ECS emulator, and the network-namespace task host runs
 * the job's image (a busybox rootfs, as a non-root user, without bash) and a service next to ci-coordinator.
 * Needs root and busybox-static.
 */
import { strict as assert } from "node:assert";
import { LocalFargate, startLocalFargate } from "../support/localFargate";
import { imageTaskHostUnsupportedReason } from "../support/netnsTaskHost";
import { skipUnlessAvailable } from "../support/requirements";
import { busyboxImage, httpServiceImage, TestImage } from "../support/testImages";

const BUILD_IMAGE = "registry.example.com/team/build:1";
const SERVICE_IMAGE = "registry.example.com/team/web:2";

describe("task host: jobs with image: and services: through the driver", function () {
  this.timeout(120_000);
  let fargate: LocalFargate | undefined;
  let buildImage: TestImage;
  let serviceImage: TestImage;

  before(function () {
    skipUnlessAvailable(this, imageTaskHostUnsupportedReason());
    buildImage = busyboxImage({ user: "1000:1000", userName: "builder", marker: "the job's image" });
    serviceImage = httpServiceImage({ body: "hello from web\n" });
  });
  after(() => {
    buildImage?.remove();
    serviceImage?.remove();
  });
  beforeEach(async () => {
    fargate = await startLocalFargate({
      images: { [BUILD_IMAGE]: buildImage, [SERVICE_IMAGE]: serviceImage },
      fargateToml: ['AllowedImages = ["*"]', 'AllowedServices = ["*"]'],
    });
  });
  afterEach(async () => {
    const local = fargate;
    fargate = undefined;
    await local?.close();
    assert.deepEqual(local?.leftovers(), { tasks: [], namespaces: [], sshServers: [], stateDirs: [] });
  });

  it("runs the job's scripts in its image as its user, with the service at its alias", async () => {
    const result = await fargate!.runJob({
      jobId: 6101,
      image: BUILD_IMAGE,
      services: [{ name: SERVICE_IMAGE, alias: "web" }],
      script: ["id -u", "cat /marker", 'echo "image=$CI_JOB_IMAGE"', "wget -qO- http://web:8080/", "ls README.md"],
      afterScript: ["echo after as $(id -un)"],
    });
    assert.equal(result.status, "success", result.log);
    for (const line of ["1000", "the job's image", `image=${BUILD_IMAGE}`, "hello from web", "README.md"]) {
      assert.ok(result.log.split("\n").includes(line), `the job log has "${line}"\n${result.log}`);
    }
    assert.match(result.log, /^after as builder$/m);
    const families = fargate!.emulator.taskDefinitions().map((td) => td.family);
    assert.equal(families.length, 2, "the driver registered one task definition for the job's containers");
    const [task] = fargate!.taskHost.history();
    assert.deepEqual(
      task.containers().map((c) => [c.name, c.image]),
      [
        ["gitlab-tools", fargate!.emulator.taskDefinitions()[0].containerDefinitions[0].image],
        ["ci-coordinator", fargate!.emulator.taskDefinitions()[0].containerDefinitions[0].image],
        ["build", BUILD_IMAGE],
        ["service-0", SERVICE_IMAGE],
      ],
    );
  });

  it("an image the registry does not have: the job fails naming CannotPullContainerError and the image", async () => {
    const result = await fargate!.runJob({
      jobId: 6102,
      image: "registry.example.com/team/missing:1",
      script: ["true"],
    });
    assert.notEqual(result.status, "success", result.log); // build or system failure: the driver's choice
    assert.match(result.log, /CannotPullContainerError: .*registry\.example\.com\/team\/missing:1/);
    assert.deepEqual(fargate!.taskHost.history(), [], "no container started");
  });
});
