import * as pulumi from "@pulumi/pulumi";

/** Where a part of the component is created: the prefix of its resources' names, their tags and their parent. */
export interface Scope {
  /** The component's name: every resource is named `<name>-<part>`. */
  name: string;
  /** Tags for every taggable resource: the caller's plus the tag naming the runner. */
  tags: Record<string, string>;
  /** The component, parent of every resource. */
  parent: pulumi.Resource;
}
