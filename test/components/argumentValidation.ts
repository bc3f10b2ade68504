/**
 * The component's argument validation (resolveArgs) under Pulumi mocks, for test/components/validation.test.ts and
 * test/components/gitlab/arguments.test.ts.
 */
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import type * as Components from "../../components";
import type * as Validation from "../../components/validation";
import { installMocks } from "../support/pulumiMocks";

export const TOKEN = "glrt-validation-token";
let validation: typeof Validation;
let counter = 0;

export type Args = Components.GitLabFargateRunnerArgs;
export const required: Args = {
  gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN },
  admin: { sshCidrBlocks: ["203.0.113.7/32"] },
};

/** Installs mocks and loads the package and its validation; call from the suite's `before`. */
export async function loadValidation(): Promise<{ components: typeof Components; validation: typeof Validation }> {
  await installMocks();
  const components = await import("../../components");
  validation = await import("../../components/validation");
  return { components, validation };
}

/**
 * Asserts that validation refuses `args` (so the constructor throws before it creates any resource) with an Error
 * whose message matches every pattern.
 */
export function refuses(args: Args, ...patterns: RegExp[]) {
  assert.throws(
    () => validation.resolveArgs(`bad${++counter}`, args),
    (error: Error) => {
      assert.ok(error instanceof Error);
      for (const pattern of patterns) assert.match(error.message, pattern);
      assert.ok(!error.message.includes(TOKEN), "an error message must never contain the token");
      return true;
    },
  );
}

/** The value of an Output. */
export function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
  return (output as unknown as { promise(): Promise<T> }).promise();
}

/** The Error an Output fails with once it resolves. */
export async function outputFailure(output: pulumi.Output<unknown>): Promise<Error> {
  try {
    await outputValue(output);
  } catch (error) {
    return error as Error;
  }
  return assert.fail("expected the output to fail");
}
