import { strict as assert } from "node:assert";
import { lstatSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { skipUnlessAvailable } from "./requirements";
import { busyboxImage, httpServiceImage, testImagesUnsupportedReason } from "./testImages";

describe("test images (busybox rootfs directories)", () => {
  before(function () {
    skipUnlessAvailable(this, testImagesUnsupportedReason());
  });

  it("busyboxImage: busybox with its applets, the user in passwd and group with a home, a marker, no bash", () => {
    const image = busyboxImage({ user: "1000:1001", userName: "builder", marker: "m1", env: { A: "1" } });
    try {
      const root = image.rootfs;
      assert.equal(readlinkSync(join(root, "bin/sh")), "busybox");
      assert.ok(lstatSync(join(root, "bin/sleep")).isSymbolicLink());
      assert.throws(() => lstatSync(join(root, "bin/bash")), /ENOENT/);
      assert.match(
        readFileSync(join(root, "etc/passwd"), "utf8"),
        /^builder:x:1000:1001:builder:\/home\/builder:\/bin\/sh$/m,
      );
      assert.match(readFileSync(join(root, "etc/group"), "utf8"), /^builder:x:1001:$/m);
      const home = statSync(join(root, "home/builder"));
      if (process.getuid?.() === 0) assert.deepEqual([home.uid, home.gid], [1000, 1001]);
      assert.equal(statSync(join(root, "tmp")).mode & 0o7777, 0o1777);
      assert.equal(readFileSync(join(root, "marker"), "utf8"), "m1\n");
      assert.equal(image.user, "1000:1001");
      assert.equal(image.env?.A, "1");
      assert.deepEqual(image.cmd, ["sh"]);
    } finally {
      image.remove();
    }
  });

  it("httpServiceImage: busybox httpd in the foreground on its port, serving the body", () => {
    const image = httpServiceImage({ port: 9000, body: "hi\n" });
    try {
      assert.deepEqual(image.cmd, ["httpd", "-f", "-v", "-p", "9000", "-h", "/www"]);
      assert.equal(readFileSync(join(image.rootfs, "www/index.html"), "utf8"), "hi\n");
      assert.equal(image.user, "101:101");
    } finally {
      image.remove();
    }
  });
});
