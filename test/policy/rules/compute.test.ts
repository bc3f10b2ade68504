import * as assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import {
  encryptedVolumes,
  imdsv2Required,
  launchTemplatesInStack,
  noSecretsInUserData,
} from "../../../policy/rules/compute";
import { resourcePolicies, stackPolicies } from "../../../policy/rules";
import { runPack, StackResource, T, UNKNOWN, urnOf, validateResource, validateStack } from "../harness";
import { assertPasses, assertViolates } from "./helpers";

describe("policy ec2-imdsv2-required", () => {
  it("passes an instance and a launch template with httpTokens required", async () => {
    const metadataOptions = { httpTokens: "required", httpEndpoint: "enabled" };
    assertPasses(await validateResource(imdsv2Required, T.instance, "manager", { metadataOptions }));
    assertPasses(await validateResource(imdsv2Required, T.launchTemplate, "lt", { metadataOptions }));
  });

  it("fails optional or missing IMDSv2", async () => {
    const optional = await validateResource(imdsv2Required, T.instance, "manager", {
      metadataOptions: { httpTokens: "optional" },
    });
    assertViolates(optional, "manager", ['httpTokens: "required"']);
    assertViolates(await validateResource(imdsv2Required, T.launchTemplate, "lt", {}), "lt", ["IMDSv2"]);
  });

  it("defers to the launch template when an instance uses one without its own metadata options", async () => {
    assertPasses(await validateResource(imdsv2Required, T.instance, "from-lt", { launchTemplate: { id: "lt-1" } }));
  });

  it("fails spot instance requests and launch configurations that allow IMDSv1, as it fails instances", async () => {
    const required = { metadataOptions: { httpTokens: "required" } };
    assertPasses(await validateResource(imdsv2Required, T.spotInstanceRequest, "spot", required));
    assertPasses(await validateResource(imdsv2Required, T.launchConfiguration, "lc", required));
    const optional = { metadataOptions: { httpTokens: "optional" } };
    assertViolates(await validateResource(imdsv2Required, T.spotInstanceRequest, "spot", optional), "spot", [
      'httpTokens: "required"',
    ]);
    assertViolates(await validateResource(imdsv2Required, T.spotInstanceRequest, "spot", {}), "spot", ["IMDSv2"]);
    assertViolates(await validateResource(imdsv2Required, T.launchConfiguration, "lc", optional), "lc", ["IMDSv2"]);
    assertViolates(await validateResource(imdsv2Required, T.launchConfiguration, "lc", {}), "lc", ["IMDSv2"]);
  });

  it("fails a spot fleet's launch specifications, which cannot require IMDSv2, and defers its launch templates", async () => {
    const fleet = await validateResource(imdsv2Required, T.spotFleetRequest, "fleet", {
      launchSpecifications: [{ ami: "ami-1", instanceType: "t3.micro" }],
    });
    assertViolates(fleet, "fleet", ["launchSpecifications[0]", "IMDSv2", "launchTemplateConfigs"]);
    const fromTemplate = await validateResource(imdsv2Required, T.spotFleetRequest, "fleet", {
      launchTemplateConfigs: [{ launchTemplateSpecification: { id: "lt-1", version: "$Latest" } }],
    });
    assertPasses(fromTemplate);
  });
});

describe("policy ec2-encrypted-volumes", () => {
  it("passes encrypted root, EBS, launch-template and standalone volumes", async () => {
    const instance = {
      rootBlockDevice: { encrypted: true, volumeType: "gp3" },
      ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: true }],
    };
    assertPasses(await validateResource(encryptedVolumes, T.instance, "manager", instance));
    const template = { blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: "true" } }] };
    assertPasses(await validateResource(encryptedVolumes, T.launchTemplate, "lt", template));
    assertPasses(
      await validateResource(encryptedVolumes, T.volume, "data", { encrypted: true, availabilityZone: "a" }),
    );
  });

  it("fails a default (unspecified) root volume and an unencrypted EBS volume", async () => {
    const outcome = await validateResource(encryptedVolumes, T.instance, "manager", {
      ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: false }],
    });
    assert.equal(outcome.violations.length, 2);
    assert.match(
      outcome.violations[0].message,
      /"manager" has an unencrypted root volume.*rootBlockDevice: \{ encrypted: true \}/,
    );
    assert.match(outcome.violations[1].message, /ebsBlockDevices\[0\], \/dev\/sdf/);
  });

  it("fails unencrypted launch-template mappings and standalone volumes", async () => {
    const template = { blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: "false" } }] };
    assertViolates(await validateResource(encryptedVolumes, T.launchTemplate, "lt", template), "lt", [
      'ebs.encrypted: "true"',
    ]);
    assertViolates(await validateResource(encryptedVolumes, T.volume, "data", { availabilityZone: "a" }), "data", [
      "encrypted: true",
    ]);
  });

  it("fails unencrypted root and EBS volumes of spot instance requests and launch configurations", async () => {
    const encrypted = {
      rootBlockDevice: { encrypted: true },
      ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: true }],
    };
    assertPasses(await validateResource(encryptedVolumes, T.spotInstanceRequest, "spot", encrypted));
    assertPasses(await validateResource(encryptedVolumes, T.launchConfiguration, "lc", encrypted));
    const plain = { ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: false }] };
    for (const [type, name] of [
      [T.spotInstanceRequest, "spot"],
      [T.launchConfiguration, "lc"],
    ]) {
      const outcome = await validateResource(encryptedVolumes, type, name, plain);
      assertViolates(outcome, name, ["encrypted: true"], 2);
      assert.match(outcome.violations[0].message, /unencrypted root volume/);
      assert.match(outcome.violations[1].message, /ebsBlockDevices\[0\], \/dev\/sdf/);
    }
  });

  it("fails a spot fleet launch specification without an encrypted root volume or with an unencrypted EBS volume", async () => {
    const spec = { ami: "ami-1", instanceType: "t3.micro" };
    const encrypted = { ...spec, rootBlockDevices: [{ encrypted: true }] };
    assertPasses(
      await validateResource(encryptedVolumes, T.spotFleetRequest, "fleet", { launchSpecifications: [encrypted] }),
    );
    const outcome = await validateResource(encryptedVolumes, T.spotFleetRequest, "fleet", {
      launchSpecifications: [
        encrypted,
        spec,
        { ...encrypted, ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: false }] },
      ],
    });
    assertViolates(outcome, "fleet", ["encrypted: true"], 2);
    assert.match(outcome.violations[0].message, /launchSpecifications\[1\].*unencrypted root volume/);
    assert.match(outcome.violations[1].message, /launchSpecifications\[2\].*ebsBlockDevices\[0\], \/dev\/sdf/);
  });

  it("fails a launch template that does not map an encrypted root device (/dev/xvda or /dev/sda1)", async () => {
    const root = (deviceName: string) => ({ deviceName, ebs: { encrypted: "true", volumeSize: 30 } });
    assertPasses(
      await validateResource(encryptedVolumes, T.launchTemplate, "ubuntu", {
        blockDeviceMappings: [root("/dev/sda1")],
      }),
    );
    const none = await validateResource(encryptedVolumes, T.launchTemplate, "bare", { metadataOptions: {} });
    assertViolates(none, "bare", ["root volume", "/dev/xvda", "/dev/sda1", 'ebs: { encrypted: "true" }']);
    const dataOnly = await validateResource(encryptedVolumes, T.launchTemplate, "data-only", {
      blockDeviceMappings: [root("/dev/sdf")],
    });
    assertViolates(dataOnly, "data-only", ["root volume"]);
  });
});

describe("policy ec2-no-secrets-in-user-data", () => {
  it("passes a bootstrap script without secrets", async () => {
    const userData = "#!/bin/bash\nset -euo pipefail\napt-get install -y gitlab-runner\n";
    assertPasses(await validateResource(noSecretsInUserData, T.instance, "manager", { userData }));
  });

  it("fails a runner token in user data, and a private key in base64 user data", async () => {
    const token = await validateResource(noSecretsInUserData, T.instance, "manager", {
      userData: "gitlab-runner register --token glrt-AbCdEf123456789_xyz",
    });
    assertViolates(token, "manager", ["runner authentication token", "never in user data"]);
    const key = Buffer.from("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn...\n").toString("base64");
    assertViolates(await validateResource(noSecretsInUserData, T.instance, "m", { userDataBase64: key }), "m", [
      "a private key",
    ]);
    assertViolates(await validateResource(noSecretsInUserData, T.launchTemplate, "lt", { userData: key }), "lt", [
      "a private key",
    ]);
  });

  const gzipBase64 = (script: string) => gzipSync(Buffer.from(script)).toString("base64");

  it("finds a token in gzip-compressed, base64-encoded user data (instances, launch templates, launch configurations)", async () => {
    const script = "#!/bin/bash\ngitlab-runner register --token glrt-AbCdEf123456789_xyz\n";
    for (const [type, props] of [
      [T.instance, { userDataBase64: gzipBase64(script) }],
      [T.spotInstanceRequest, { userDataBase64: gzipBase64(script) }],
      [T.launchConfiguration, { userDataBase64: gzipBase64(script) }],
      [T.launchTemplate, { userData: gzipBase64(script) }],
    ] as const) {
      assertViolates(await validateResource(noSecretsInUserData, type, "zipped", props), "zipped", [
        "runner authentication token",
      ]);
    }
    const clean = { userDataBase64: gzipBase64("#!/bin/bash\napt-get install -y gitlab-runner\n") };
    assertPasses(await validateResource(noSecretsInUserData, T.instance, "clean", clean));
  });

  /** A cloud-init multipart MIME document, one part per [Content-Transfer-Encoding, encoded body]. */
  const multipart = (...parts: [string, string][]) =>
    [
      'Content-Type: multipart/mixed; boundary="===BOUNDARY=="',
      "MIME-Version: 1.0",
      "",
      ...parts.flatMap(([encoding, body]) => [
        "--===BOUNDARY==",
        'Content-Type: text/x-shellscript; charset="utf-8"',
        `Content-Transfer-Encoding: ${encoding}`,
        "",
        body,
      ]),
      "--===BOUNDARY==--",
      "",
    ].join("\n");
  const base64 = (text: string) => Buffer.from(text).toString("base64");
  const runnerScript = "#!/bin/bash\ngitlab-runner register --token glrt-AbCdEf123456789_xyz\n";

  it("finds tokens in base64 and quoted-printable parts of multipart MIME user data, plain, base64 or gzip+base64", async () => {
    const documents: [string, string, string][] = [
      [
        "base64 part",
        multipart(["7bit", "#cloud-config\n"], ["base64", base64(runnerScript)]),
        "runner authentication",
      ],
      ["gzip+base64 part", multipart(["base64", gzipBase64(runnerScript)]), "runner authentication"],
      [
        "quoted-printable part",
        multipart(["quoted-printable", "export TOKEN=3Dglrt-AbCdEf123456789_xyz\n"]),
        "runner authentication",
      ],
      [
        "quoted-printable soft line break",
        multipart(["quoted-printable", "gitlab-runner register --registration-token GR1348941AbCd=\nEf123456789\n"]),
        "registration token",
      ],
      [
        "CRLF, folded header, unquoted boundary",
        multipart(["base64", base64(runnerScript)])
          .replace('; boundary="===BOUNDARY=="', ";\n boundary=xYz")
          .replaceAll("===BOUNDARY==", "xYz")
          .replaceAll("\n", "\r\n"),
        "runner authentication",
      ],
      [
        "nested multipart",
        multipart(["7bit", "#cloud-config\n"])
          .replace("#cloud-config\n", "")
          .replace(
            'Content-Type: text/x-shellscript; charset="utf-8"',
            'Content-Type: multipart/alternative; boundary="inner"',
          )
          .replace(
            "--===BOUNDARY==--",
            `--inner\nContent-Transfer-Encoding: base64\n\n${base64(runnerScript)}\n--inner--\n--===BOUNDARY==--`,
          ),
        "runner authentication",
      ],
    ];
    const missed: string[] = [];
    for (const [what, document, secret] of documents) {
      for (const [how, props] of [
        ["plain", { userData: document }],
        ["base64", { userDataBase64: base64(document) }],
        ["gzip+base64", { userDataBase64: gzipBase64(document) }],
      ] as const) {
        const { violations } = await validateResource(noSecretsInUserData, T.instance, "mime", props);
        if (violations.length !== 1 || !violations[0].message.includes(secret)) {
          missed.push(`${what}, ${how}`);
        }
      }
    }
    assert.deepEqual(missed, []);
    const template = { userData: base64(multipart(["base64", gzipBase64(runnerScript)])) };
    assertViolates(await validateResource(noSecretsInUserData, T.launchTemplate, "lt", template), "lt", [
      "runner authentication",
    ]);
  });

  it("passes multipart MIME user data whose decoded parts hold no secret", async () => {
    const clean = "#!/bin/bash\napt-get install -y gitlab-runner\n";
    const document = multipart(
      ["base64", base64(clean)],
      ["base64", gzipBase64(clean)],
      ["quoted-printable", "a=3Db=\nc\n"],
    );
    for (const props of [{ userData: document }, { userDataBase64: gzipBase64(document) }]) {
      assertPasses(await validateResource(noSecretsInUserData, T.instance, "clean", props));
    }
  });

  it("finds tokens in the user data of spot instance requests, spot fleets and launch configurations", async () => {
    const register = "gitlab-runner register --registration-token GR1348941AbCdEf123456789";
    assertViolates(
      await validateResource(noSecretsInUserData, T.spotInstanceRequest, "spot", { userData: register }),
      "spot",
      ["registration token"],
    );
    assertViolates(
      await validateResource(noSecretsInUserData, T.launchConfiguration, "lc", {
        userDataBase64: Buffer.from(register).toString("base64"),
      }),
      "lc",
      ["registration token"],
    );
    const fleet = await validateResource(noSecretsInUserData, T.spotFleetRequest, "fleet", {
      launchSpecifications: [
        { ami: "ami-1", instanceType: "t3.micro", userData: "#!/bin/bash\n" },
        { ami: "ami-1", instanceType: "t3.micro", userData: "export TOKEN=glrt-AbCdEf123456789_xyz" },
      ],
    });
    assertViolates(fleet, "fleet", ["launchSpecifications[1]", "runner authentication token"]);
  });
});

describe("policy ec2-launch-template-in-stack", () => {
  const template: StackResource = {
    type: T.launchTemplate,
    name: "runners",
    props: {
      id: "lt-0aaa",
      name: "runners-lt",
      arn: "arn:aws:ec2:eu-west-1:123456789012:launch-template/lt-0aaa",
      metadataOptions: { httpTokens: "required" },
      blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: "true" } }],
    },
  };
  const config: StackResource = {
    type: T.launchConfiguration,
    name: "legacy",
    props: { id: "legacy-lc", name: "legacy-lc", metadataOptions: { httpTokens: "required" } },
  };
  const launcher = (type: string, name: string, props: Record<string, unknown>): StackResource => ({
    type,
    name,
    props: { id: `${name}-id`, ...props },
  });
  const byId = { id: "lt-0aaa", version: "$Latest" };
  const byName = { name: "runners-lt" };

  it("passes instances, spot requests, autoscaling groups and fleets that launch from this stack's templates", async () => {
    const stack = [
      template,
      config,
      launcher(T.instance, "manager", { launchTemplate: byId }),
      launcher(T.spotInstanceRequest, "spot", { launchTemplate: byName }),
      launcher(T.autoscalingGroup, "asg", { launchTemplate: byId }),
      launcher(T.autoscalingGroup, "asg-legacy", { launchConfiguration: "legacy-lc" }),
      launcher(T.autoscalingGroup, "asg-mixed", {
        mixedInstancesPolicy: {
          launchTemplate: {
            launchTemplateSpecification: { launchTemplateName: "runners-lt" },
            overrides: [{ instanceType: "t3.large", launchTemplateSpecification: { launchTemplateId: "lt-0aaa" } }],
          },
        },
      }),
      launcher(T.spotFleetRequest, "spot-fleet", {
        launchTemplateConfigs: [{ launchTemplateSpecification: byId }],
      }),
      launcher(T.fleet, "fleet", {
        launchTemplateConfigs: [{ launchTemplateSpecification: { launchTemplateId: "lt-0aaa", version: "1" } }],
      }),
      launcher(T.instance, "plain", { rootBlockDevice: { encrypted: true } }),
    ];
    assertPasses(await validateStack(launchTemplatesInStack, stack));
  });

  it("fails launching from a launch template or launch configuration outside the stack (it cannot be checked)", async () => {
    const stack = [
      template,
      launcher(T.instance, "manager", { launchTemplate: { id: "lt-0elsewhere" } }),
      launcher(T.autoscalingGroup, "asg", {
        mixedInstancesPolicy: {
          launchTemplate: {
            launchTemplateSpecification: { launchTemplateId: "lt-0aaa" },
            overrides: [{ launchTemplateSpecification: { launchTemplateName: "someone-elses" } }],
          },
        },
      }),
      launcher(T.autoscalingGroup, "asg-legacy", { launchConfiguration: "old-lc" }),
      launcher(T.spotFleetRequest, "spot-fleet", {
        launchTemplateConfigs: [{ launchTemplateSpecification: { name: "fleet-lt" } }],
      }),
    ];
    const outcome = await validateStack(launchTemplatesInStack, stack);
    assert.equal(outcome.violations.length, 4, JSON.stringify(outcome.violations, null, 2));
    for (const { message } of outcome.violations) {
      assert.match(message, /not defined in this stack, so the pack cannot check .*Fix:/);
    }
    const [instance, asg, legacy, fleet] = outcome.violations;
    assert.match(instance.message, /"manager" launches from launch template lt-0elsewhere \(launchTemplate\)/);
    assert.equal(instance.urn, urnOf(T.instance, "manager"));
    assert.match(
      asg.message,
      /"asg" launches from launch template someone-elses \(mixedInstancesPolicy\.launchTemplate\.overrides\[0\]\)/,
    );
    assert.match(legacy.message, /"asg-legacy" launches from launch configuration old-lc/);
    assert.match(fleet.message, /"spot-fleet" launches from launch template fleet-lt \(launchTemplateConfigs\[0\]\)/);
  });

  it("leaves a reference not known yet (first preview) to the update run", async () => {
    const newTemplate: StackResource = { ...template, props: { ...template.props, id: UNKNOWN, name: UNKNOWN } };
    const instance: StackResource = {
      ...launcher(T.instance, "manager", { launchTemplate: { id: UNKNOWN, version: "$Latest" } }),
      dependsOn: { launchTemplate: [newTemplate] },
    };
    const outcome = await validateStack(launchTemplatesInStack, [newTemplate, instance]);
    assertPasses(outcome);
    assert.deepEqual(outcome.cannotRunInPreview, []);
  });

  it("is not applicable to a stack that launches no EC2 instances", async () => {
    assert.equal((await validateStack(launchTemplatesInStack, [template])).notApplicable, true);
  });

  it("with the whole pack: an instance from a template without block device mappings is a violation", async () => {
    const bare: StackResource = { ...template, props: { ...template.props, blockDeviceMappings: [] } };
    const instance = launcher(T.instance, "manager", {
      launchTemplate: byId,
      metadataOptions: { httpTokens: "required" },
    });
    const { violations } = await runPack(resourcePolicies, stackPolicies, [bare, instance]);
    assert.deepEqual(
      violations.map(({ policy }) => policy),
      ["ec2-encrypted-volumes"],
    );
    assert.match(violations[0].message, /"runners".*root volume/);
  });
});
