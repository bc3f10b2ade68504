/**
 * How an argument check reports, shared by the component, registerRunner and GitLabRunner: an Error reading
 * `<argument>: <problem>`, raised now for a plain value and when it resolves for a Pulumi Output.
 */
import * as pulumi from "@pulumi/pulumi";

/** A broken shared rule: `<argument>: <problem>`. */
export function refuse(argument: string, problem: string): never {
  throw new Error(`${argument}: ${problem}`);
}

/**
 * Applies `check` to a plain string now, so a bad argument fails before any resource exists, and to an Output as
 * soon as it resolves (a value from stack config or another resource). A secret Output stays secret.
 */
export function checkedInput(input: pulumi.Input<string>, check: (value: string) => string): pulumi.Output<string> {
  return typeof input === "string" ? pulumi.output(check(input)) : pulumi.output(input).apply(check);
}
