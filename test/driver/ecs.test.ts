import { strict as assert } from "node:assert";
import { taskView } from "../../driver/ecs";

describe("driver view of an ECS task", () => {
  it("reads the IP and ENI from the attachment, falling back to the container's interface", () => {
    const view = taskView({
      taskArn: "a",
      attachments: [{ type: "ElasticNetworkInterface", details: [{ name: "networkInterfaceId", value: "eni-1" }] }],
      containers: [{ name: "c", networkInterfaces: [{ privateIpv4Address: "10.0.0.5" }] }],
    });
    assert.equal(view.privateIp, "10.0.0.5");
    assert.equal(view.networkInterfaceId, "eni-1");
  });
});
