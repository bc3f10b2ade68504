import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { resourceLabel } from "./common";

function imdsv2Message(label: string): string {
  return `${label} does not require IMDSv2. Fix: set metadataOptions: { httpTokens: "required" }.`;
}

/** Instances and launch templates require IMDSv2 (session tokens), so a stolen SSRF cannot read role credentials. */
export const imdsv2Required: ResourceValidationPolicy = {
  name: "ec2-imdsv2-required",
  description: 'EC2 instances and launch templates require IMDSv2 (metadataOptions.httpTokens = "required").',
  enforcementLevel: "mandatory",
  validateResource: [
    validateResourceOfType(aws.ec2.Instance, (instance, args, reportViolation) => {
      if (instance.launchTemplate && instance.metadataOptions === undefined) {
        return; // the launch template decides; it is checked on its own
      }
      if (instance.metadataOptions?.httpTokens !== "required") {
        reportViolation(imdsv2Message(resourceLabel(args.type, args.name)));
      }
    }),
    validateResourceOfType(aws.ec2.LaunchTemplate, (template, args, reportViolation) => {
      if (template.metadataOptions?.httpTokens !== "required") {
        reportViolation(imdsv2Message(resourceLabel(args.type, args.name)));
      }
    }),
  ],
};

/** Root and attached EBS volumes are encrypted at rest. */
export const encryptedVolumes: ResourceValidationPolicy = {
  name: "ec2-encrypted-volumes",
  description: "EC2 root and EBS volumes (instances, launch templates, standalone volumes) are encrypted.",
  enforcementLevel: "mandatory",
  validateResource: [
    validateResourceOfType(aws.ec2.Instance, (instance, args, reportViolation) => {
      const label = resourceLabel(args.type, args.name);
      const templateDecides = instance.launchTemplate && instance.rootBlockDevice === undefined;
      if (!templateDecides && instance.rootBlockDevice?.encrypted !== true) {
        reportViolation(`${label} has an unencrypted root volume. Fix: set rootBlockDevice: { encrypted: true }.`);
      }
      (instance.ebsBlockDevices ?? []).forEach((device, index) => {
        if (device.encrypted !== true) {
          reportViolation(
            `${label} attaches an unencrypted EBS volume (ebsBlockDevices[${index}], ${device.deviceName}). ` +
              "Fix: set encrypted: true on it.",
          );
        }
      });
    }),
    validateResourceOfType(aws.ec2.LaunchTemplate, (template, args, reportViolation) => {
      (template.blockDeviceMappings ?? []).forEach((mapping, index) => {
        // Launch templates carry this flag as the string "true"/"false".
        if (mapping.ebs && String(mapping.ebs.encrypted) !== "true") {
          reportViolation(
            `${resourceLabel(args.type, args.name)} maps an unencrypted EBS volume ` +
              `(blockDeviceMappings[${index}], ${mapping.deviceName}). Fix: set ebs.encrypted: "true".`,
          );
        }
      });
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

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function decodeBase64(value: unknown): string {
  return Buffer.from(text(value), "base64").toString("utf8");
}

/** The secrets found in `text`, by description. */
export function secretsIn(text: string): string[] {
  return SECRET_PATTERNS.filter(([, pattern]) => pattern.test(text)).map(([description]) => description);
}

/** No token or private key in EC2 user data. */
export const noSecretsInUserData: ResourceValidationPolicy = {
  name: "ec2-no-secrets-in-user-data",
  description: "EC2 user data contains no GitLab token and no private key.",
  enforcementLevel: "mandatory",
  validateResource: [
    validateResourceOfType(aws.ec2.Instance, (instance, args, reportViolation) => {
      const texts = [text(instance.userData), decodeBase64(instance.userDataBase64)];
      for (const secret of new Set(texts.flatMap(secretsIn))) {
        reportViolation(
          `${resourceLabel(args.type, args.name)} has ${secret} in its user data. ` +
            "Fix: deliver secrets after boot over SSH or from Secrets Manager, never in user data.",
        );
      }
    }),
    validateResourceOfType(aws.ec2.LaunchTemplate, (template, args, reportViolation) => {
      for (const secret of secretsIn(decodeBase64(template.userData))) {
        reportViolation(
          `${resourceLabel(args.type, args.name)} has ${secret} in its user data. ` +
            "Fix: deliver secrets after boot over SSH or from Secrets Manager, never in user data.",
        );
      }
    }),
  ],
};

export const computePolicies = { resource: [imdsv2Required, encryptedVolumes, noSecretsInUserData], stack: [] };
