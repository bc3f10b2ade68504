import { gunzipSync } from "node:zlib";
import * as aws from "@pulumi/aws";
import { Resource } from "@pulumi/pulumi";
import {
  PolicyResource,
  ReportViolation,
  ResourceValidation,
  ResourceValidationPolicy,
  StackValidationPolicy,
  validateResourceOfType,
} from "@pulumi/policy";
import { asList, identifiersOf, listAt, readKnown, resourceLabel } from "./common";

/** The parts of an instance's (or spot request's, or launch configuration's) inputs these rules read. */
interface InstanceSettings {
  launchTemplate?: unknown;
  metadataOptions?: { httpTokens?: string };
  rootBlockDevice?: { encrypted?: boolean };
  ebsBlockDevices?: { deviceName?: string; encrypted?: boolean }[];
  userData?: string;
  userDataBase64?: string;
}

/**
 * Resources that configure the instances they launch with aws.ec2.Instance's own property names (metadataOptions,
 * rootBlockDevice, ebsBlockDevices, userData, userDataBase64), so every rule checks them alike.
 */
const INSTANCE_SHAPED = [aws.ec2.Instance, aws.ec2.SpotInstanceRequest, aws.ec2.LaunchConfiguration];

/** A validation of the {@link INSTANCE_SHAPED} resources: `check` gets their settings and label. */
function forInstanceShaped(
  check: (settings: InstanceSettings, label: string, reportViolation: ReportViolation) => void,
): ResourceValidation {
  return (args, reportViolation) => {
    if (!INSTANCE_SHAPED.some((resourceClass) => args.isType<Resource>(resourceClass))) {
      return args.notApplicable("Applies to aws.ec2.Instance, SpotInstanceRequest and LaunchConfiguration only");
    }
    check(args.props as InstanceSettings, resourceLabel(args.type, args.name), reportViolation);
  };
}

/** A spot fleet's launch specifications, each with what messages call it: `… "fleet" (launchSpecifications[1])`. */
function launchSpecifications(fleet: aws.ec2.SpotFleetRequestArgs, label: string) {
  const specs = asList(fleet.launchSpecifications as aws.types.input.ec2.SpotFleetRequestLaunchSpecification[]);
  return specs.map((spec, index) => ({ spec, subject: `${label} (launchSpecifications[${index}])` }));
}

function imdsv2Message(label: string): string {
  return `${label} does not require IMDSv2. Fix: set metadataOptions: { httpTokens: "required" }.`;
}

/** Instances and launch templates require IMDSv2 (session tokens), so a stolen SSRF cannot read role credentials. */
export const imdsv2Required: ResourceValidationPolicy = {
  name: "ec2-imdsv2-required",
  description:
    'EC2 instances, spot instance requests, launch configurations and launch templates require IMDSv2 (metadataOptions.httpTokens = "required"); spot fleets launch from launch templates.',
  enforcementLevel: "mandatory",
  validateResource: [
    forInstanceShaped((instance, label, reportViolation) => {
      if (instance.launchTemplate && instance.metadataOptions === undefined) {
        return; // the launch template decides; it is checked on its own (and ec2-launch-template-in-stack: it can be)
      }
      if (instance.metadataOptions?.httpTokens !== "required") {
        reportViolation(imdsv2Message(label));
      }
    }),
    validateResourceOfType(aws.ec2.LaunchTemplate, (template, args, reportViolation) => {
      if (template.metadataOptions?.httpTokens !== "required") {
        reportViolation(imdsv2Message(resourceLabel(args.type, args.name)));
      }
    }),
    validateResourceOfType(aws.ec2.SpotFleetRequest, (fleet, args, reportViolation) => {
      for (const { subject } of launchSpecifications(fleet, resourceLabel(args.type, args.name))) {
        reportViolation(
          `${subject} cannot require IMDSv2 (launch specifications have no metadata options). ` +
            'Fix: use launchTemplateConfigs with a launch template that sets metadataOptions: { httpTokens: "required" }.',
        );
      }
    }),
  ],
};

/** Reports every EBS volume of `devices` (an ebsBlockDevices list) that is not encrypted. */
function reportUnencryptedEbs(subject: string, devices: unknown, reportViolation: ReportViolation): void {
  asList(devices as { deviceName?: string; encrypted?: unknown }[]).forEach((device, index) => {
    if (device?.encrypted !== true) {
      reportViolation(
        `${subject} attaches an unencrypted EBS volume (ebsBlockDevices[${index}], ${device?.deviceName}). ` +
          "Fix: set encrypted: true on it.",
      );
    }
  });
}

/**
 * The root device names of AWS's AMIs (EC2 User Guide, "Device names for volumes on Amazon EC2 instances"). A launch
 * template that maps neither leaves the root volume to the AMI, whose snapshot may well be unencrypted.
 */
export const ROOT_DEVICE_NAMES = ["/dev/xvda", "/dev/sda1"];

/** Root and attached EBS volumes are encrypted at rest. */
export const encryptedVolumes: ResourceValidationPolicy = {
  name: "ec2-encrypted-volumes",
  description:
    "EC2 root and EBS volumes (instances, spot requests and fleets, launch configurations and templates, standalone volumes) are encrypted.",
  enforcementLevel: "mandatory",
  validateResource: [
    forInstanceShaped((instance, label, reportViolation) => {
      const templateDecides = instance.launchTemplate && instance.rootBlockDevice === undefined;
      if (!templateDecides && instance.rootBlockDevice?.encrypted !== true) {
        reportViolation(`${label} has an unencrypted root volume. Fix: set rootBlockDevice: { encrypted: true }.`);
      }
      reportUnencryptedEbs(label, instance.ebsBlockDevices, reportViolation);
    }),
    validateResourceOfType(aws.ec2.SpotFleetRequest, (fleet, args, reportViolation) => {
      for (const { spec, subject } of launchSpecifications(fleet, resourceLabel(args.type, args.name))) {
        const roots = asList(spec.rootBlockDevices as { encrypted?: unknown }[]);
        if (roots.length === 0 || roots.some((root) => root?.encrypted !== true)) {
          reportViolation(
            `${subject} has an unencrypted root volume. Fix: set rootBlockDevices: [{ encrypted: true }] on it.`,
          );
        }
        reportUnencryptedEbs(subject, spec.ebsBlockDevices, reportViolation);
      }
    }),
    validateResourceOfType(aws.ec2.LaunchTemplate, (template, args, reportViolation) => {
      const label = resourceLabel(args.type, args.name);
      const mappings = template.blockDeviceMappings ?? [];
      mappings.forEach((mapping, index) => {
        // Launch templates carry this flag as the string "true"/"false".
        if (mapping.ebs && String(mapping.ebs.encrypted) !== "true") {
          reportViolation(
            `${label} maps an unencrypted EBS volume (blockDeviceMappings[${index}], ${mapping.deviceName}). ` +
              'Fix: set ebs.encrypted: "true".',
          );
        }
      });
      if (!mappings.some((mapping) => mapping.ebs && ROOT_DEVICE_NAMES.includes(String(mapping.deviceName)))) {
        reportViolation(
          `${label} maps no root volume (${ROOT_DEVICE_NAMES.join(" or ")}), so its instances get the AMI's root ` +
            "volume, which may be unencrypted. Fix: add a blockDeviceMappings entry for the AMI's root device with " +
            'ebs: { encrypted: "true" }.',
        );
      }
    }),
    validateResourceOfType(aws.ebs.Volume, (volume, args, reportViolation) => {
      if (volume.encrypted !== true) {
        reportViolation(`${resourceLabel(args.type, args.name)} is not encrypted. Fix: set encrypted: true.`);
      }
    }),
  ],
};

/**
 * Recognisable secrets that must never be in user data (readable by anyone with ec2:DescribeInstanceAttribute and
 * from the instance metadata service by every process on the machine). Each is [description, pattern].
 */
const SECRET_PATTERNS: [string, RegExp][] = [
  ["a GitLab runner authentication token (glrt-…)", /\bglrt-[A-Za-z0-9_-]{8,}/],
  ["a GitLab personal/project access token (glpat-…)", /\bglpat-[A-Za-z0-9_-]{8,}/],
  ["a GitLab runner registration token (GR1348941…)", /\bGR1348941[A-Za-z0-9_-]{8,}/],
  ["a private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
];

/** The secrets found in `text`, by description. */
export function secretsIn(text: string): string[] {
  return SECRET_PATTERNS.filter(([, pattern]) => pattern.test(text)).map(([description]) => description);
}

/** Gunzipped `bytes` when they start with the gzip magic number (1f 8b), as cloud-init accepts them; else "". */
function gunzipped(bytes: Buffer): string {
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
    return "";
  }
  try {
    // AWS limits user data to 16 KB, so its expansion stays far below this cap (which only stops a bomb).
    return gunzipSync(bytes, { maxOutputLength: 64 * 1024 * 1024 }).toString("utf8");
  } catch {
    return ""; // not gzip after all: nothing a machine could unpack either
  }
}

/** The bytes a quoted-printable body stands for: soft line breaks (`=` at a line's end) removed, `=XX` decoded. */
function quotedPrintableDecoded(body: string): Buffer {
  const unwrapped = body.replace(/=[ \t]*\r?\n/g, "");
  return Buffer.from(
    unwrapped.replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    "latin1",
  );
}

/** A MIME entity's headers (folded lines joined) and its body, split at the first empty line. */
function headersAndBody(entity: string): { headers: string; body: string } {
  const blank = /(?:^|\r?\n)\r?\n/.exec(entity);
  const headers = blank ? entity.slice(0, blank.index) : entity;
  return {
    headers: headers.replace(/\r?\n[ \t]+/g, " "),
    body: blank ? entity.slice(blank.index + blank[0].length) : "",
  };
}

/**
 * The decoded parts of `text` when it is a MIME multipart document (cloud-init's multipart user data), else none:
 * the document is split at the boundary its Content-Type header names, each base64 or quoted-printable part is
 * decoded (and gunzipped when gzip), and a part that is itself multipart is split in turn.
 */
export function mimePartTexts(text: string): string[] {
  const { headers, body } = headersAndBody(text);
  const boundary = /^content-type:\s*multipart\/[^\r\n]*?\bboundary=(?:"([^"\r\n]+)"|([^\s;]+))/im.exec(headers);
  if (!boundary) {
    return [];
  }
  // Each part follows a `--boundary` line; the first piece is the preamble, the rest of the line transport padding.
  const parts = body.split(`--${boundary[1] ?? boundary[2]}`).slice(1);
  return parts.flatMap((delimited) => {
    const part = delimited.slice(delimited.indexOf("\n") + 1);
    const { headers: partHeaders, body: partBody } = headersAndBody(part);
    const encoding = /^content-transfer-encoding:\s*([\w-]+)/im.exec(partHeaders)?.[1].toLowerCase();
    const decoded =
      encoding === "base64"
        ? Buffer.from(partBody, "base64")
        : encoding === "quoted-printable"
          ? quotedPrintableDecoded(partBody)
          : undefined;
    const texts = decoded ? [decoded.toString("utf8"), gunzipped(decoded)] : [];
    return [...texts, ...mimePartTexts(part)];
  });
}

/**
 * Every reading of a user data value: the text as given, its base64 decoding, and that decoding gunzipped when it is
 * gzip (`userDataBase64` of compressed cloud-init data); and of each reading that is a multipart MIME document, its
 * decoded parts. Each field is read every way, whatever its name says.
 */
export function userDataTexts(value: unknown): string[] {
  const text = typeof value === "string" ? value : "";
  const decoded = Buffer.from(text, "base64");
  return [text, decoded.toString("utf8"), gunzipped(decoded)].flatMap((reading) => [
    reading,
    ...mimePartTexts(reading),
  ]);
}

function reportSecrets(subject: string, values: unknown[], reportViolation: ReportViolation): void {
  for (const secret of new Set(values.flatMap(userDataTexts).flatMap(secretsIn))) {
    reportViolation(
      `${subject} has ${secret} in its user data. ` +
        "Fix: deliver secrets after boot over SSH or from Secrets Manager, never in user data.",
    );
  }
}

/** No token or private key in EC2 user data. */
export const noSecretsInUserData: ResourceValidationPolicy = {
  name: "ec2-no-secrets-in-user-data",
  description:
    "EC2 user data (instances, spot requests and fleets, launch configurations and templates; plain, base64, gzip or multipart MIME) contains no GitLab token and no private key.",
  enforcementLevel: "mandatory",
  validateResource: [
    forInstanceShaped((instance, label, reportViolation) =>
      reportSecrets(label, [instance.userData, instance.userDataBase64], reportViolation),
    ),
    validateResourceOfType(aws.ec2.LaunchTemplate, (template, args, reportViolation) =>
      reportSecrets(resourceLabel(args.type, args.name), [template.userData], reportViolation),
    ),
    validateResourceOfType(aws.ec2.SpotFleetRequest, (fleet, args, reportViolation) => {
      for (const { spec, subject } of launchSpecifications(fleet, resourceLabel(args.type, args.name))) {
        reportSecrets(subject, [spec.userData], reportViolation);
      }
    }),
  ],
};

/** A launch template or launch configuration a resource launches instances from, as its props name it. */
interface LaunchSource {
  kind: "launch template" | "launch configuration";
  /** The property that names it, for messages. */
  where: string;
  /** Its id and/or name as given; a value not known yet (preview) is not a string. */
  names: unknown[];
}

function templateAt(where: string, specification: unknown, keys = ["id", "name"]): LaunchSource {
  return { kind: "launch template", where, names: keys.map((key) => readKnown(specification, key)) };
}

/** The launch templates (and configurations) `resource` launches from; none for other resource types. */
function launchSourcesOf(resource: PolicyResource): LaunchSource[] {
  const props = resource.props;
  const fleetTemplates = (keys?: string[]) =>
    listAt(props, "launchTemplateConfigs").map((config, index) =>
      templateAt(`launchTemplateConfigs[${index}]`, readKnown(config, "launchTemplateSpecification"), keys),
    );
  if (resource.isType(aws.ec2.Instance) || resource.isType(aws.ec2.SpotInstanceRequest)) {
    return [templateAt("launchTemplate", readKnown(props, "launchTemplate"))];
  }
  if (resource.isType(aws.ec2.SpotFleetRequest)) {
    return fleetTemplates();
  }
  if (resource.isType(aws.ec2.Fleet)) {
    return fleetTemplates(["launchTemplateId", "launchTemplateName"]);
  }
  if (resource.isType(aws.autoscaling.Group)) {
    const mixed = "mixedInstancesPolicy.launchTemplate";
    const mixedTemplate = readKnown(readKnown(props, "mixedInstancesPolicy"), "launchTemplate");
    const mixedKeys = ["launchTemplateId", "launchTemplateName"];
    return [
      templateAt("launchTemplate", readKnown(props, "launchTemplate")),
      templateAt(mixed, readKnown(mixedTemplate, "launchTemplateSpecification"), mixedKeys),
      ...listAt(mixedTemplate, "overrides").map((override, index) =>
        templateAt(`${mixed}.overrides[${index}]`, readKnown(override, "launchTemplateSpecification"), mixedKeys),
      ),
      { kind: "launch configuration", where: "launchConfiguration", names: [readKnown(props, "launchConfiguration")] },
    ];
  }
  return [];
}

const LAUNCHERS = [
  aws.ec2.Instance,
  aws.ec2.SpotInstanceRequest,
  aws.ec2.SpotFleetRequest,
  aws.ec2.Fleet,
  aws.autoscaling.Group,
];

/**
 * Instances launch only from launch templates and configurations this stack defines: the pack checks those (IMDSv2,
 * volume encryption, user data), but cannot see one defined elsewhere, so a reference to one is a violation rather
 * than a silent pass. A reference not known yet (preview) is left to the update run.
 */
export const launchTemplatesInStack: StackValidationPolicy = {
  name: "ec2-launch-template-in-stack",
  description:
    "Instances, spot requests, spot and EC2 fleets and autoscaling groups launch only from launch templates and launch configurations defined in the same stack, which the pack checks.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const launchers = args.resources.filter((resource) => LAUNCHERS.some((type) => resource.isType<Resource>(type)));
    if (launchers.length === 0) {
      return args.notApplicable("Nothing in this stack launches EC2 instances");
    }
    const inStack = (type: typeof aws.ec2.LaunchTemplate | typeof aws.ec2.LaunchConfiguration) =>
      new Set(
        args.resources
          .filter((resource) => resource.isType<Resource>(type))
          .flatMap((resource) => [...identifiersOf(resource, ["id", "name", "arn"])]),
      );
    const defined = {
      "launch template": inStack(aws.ec2.LaunchTemplate),
      "launch configuration": inStack(aws.ec2.LaunchConfiguration),
    };
    for (const launcher of launchers) {
      for (const source of launchSourcesOf(launcher)) {
        const names = source.names.filter((name): name is string => typeof name === "string" && name.length > 0);
        if (names.length === 0 || names.some((name) => defined[source.kind].has(name))) {
          continue; // no such source, one of this stack's, or not known yet
        }
        reportViolation(
          `${resourceLabel(launcher.type, launcher.name)} launches from ${source.kind} ${names.join(" / ")} ` +
            `(${source.where}), which is not defined in this stack, so the pack cannot check its IMDSv2, volume ` +
            `encryption and user data. Fix: define the ${source.kind} in this stack, so the pack checks it.`,
          launcher.urn,
        );
      }
    }
  },
};

export const computePolicies = {
  resource: [imdsv2Required, encryptedVolumes, noSecretsInUserData],
  stack: [launchTemplatesInStack],
};
