/**
 * A fake of the GitLab REST endpoints that manage runners, served on 127.0.0.1 by node:http. It keeps runners in
 * memory, applies GitLab's documented rules (auth by PRIVATE-TOKEN, group/project must exist, maximum_timeout of at
 * least 600, tags or run_untagged) and records every request. `failNext` answers the next request with a given
 * status instead, to test error handling.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

export interface FakeRunner {
  id: number;
  runner_type: string;
  group_id?: number;
  project_id?: number;
  description: string;
  tag_list: string[];
  run_untagged: boolean;
  locked: boolean;
  access_level: string;
  maximum_timeout: number | null;
  paused: boolean;
  maintenance_note: string | null;
  token: string;
}

export interface FakeGitLab {
  /** Base URL to give as gitlab.url (includes the path prefix, if any). */
  url: string;
  host: string;
  requests: RecordedRequest[];
  runners: Map<number, FakeRunner>;
  /** Answer the next request with this status, body and headers (the request is still recorded). */
  failNext(status: number, body?: unknown, headers?: Record<string, string>): void;
  /** Never answer the next request (to test client timeouts). */
  hangNext(): void;
  close(): Promise<void>;
}

export interface FakeGitLabOptions {
  accessToken: string;
  /** GitLab served under a sub-path, e.g. "/gitlab". */
  pathPrefix?: string;
  groups?: number[];
  projects?: number[];
}

type Injected = { status: number; body?: unknown; headers?: Record<string, string> } | "hang";

export async function startFakeGitLab(options: FakeGitLabOptions): Promise<FakeGitLab> {
  const prefix = `${options.pathPrefix ?? ""}/api/v4/`;
  const groups = new Set(options.groups ?? []);
  const projects = new Set(options.projects ?? []);
  const requests: RecordedRequest[] = [];
  const runners = new Map<number, FakeRunner>();
  const injected: Injected[] = [];
  let nextId = 100;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const body = text === "" ? undefined : JSON.parse(text);
      const path = req.url ?? "";
      requests.push({ method: req.method ?? "", path, headers: req.headers, body });
      const reply = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
        const json = payload === undefined ? "" : JSON.stringify(payload);
        res.writeHead(status, { ...(json ? { "Content-Type": "application/json" } : {}), ...headers });
        res.end(json);
      };
      const fault = injected.shift();
      if (fault === "hang") return;
      if (fault) return reply(fault.status, fault.body, fault.headers);
      if (!path.startsWith(prefix)) {
        res.writeHead(404, { "Content-Type": "text/html" });
        return res.end("<html>Not Found</html>");
      }
      if (req.headers["private-token"] !== options.accessToken) return reply(401, { message: "401 Unauthorized" });
      const route = path.slice(prefix.length);
      if (req.method === "POST" && route === "user/runners") return create(body, reply);
      const match = /^runners\/(\d+)$/.exec(route);
      const runner = match ? runners.get(Number(match[1])) : undefined;
      if (!match) return reply(404, { error: "404 Not Found" });
      if (!runner) return reply(404, { message: "404 Not found" });
      if (req.method === "GET") return reply(200, publicView(runner));
      if (req.method === "DELETE") {
        runners.delete(runner.id);
        return reply(204);
      }
      if (req.method === "PUT") {
        const problems = validate({ ...runner, ...body });
        if (problems) return reply(400, { message: problems });
        Object.assign(runner, pick(body));
        return reply(200, publicView(runner));
      }
      return reply(405, { message: "405 Method Not Allowed" });
    });
  });

  function create(body: Record<string, unknown>, reply: (status: number, payload?: unknown) => void) {
    const type = body.runner_type;
    if (type !== "instance_type" && type !== "group_type" && type !== "project_type") {
      return reply(400, { error: "runner_type does not have a valid value" });
    }
    if (type === "group_type" && !groups.has(body.group_id as number)) {
      return reply(404, { message: "404 Group Not Found" });
    }
    if (type === "project_type" && !projects.has(body.project_id as number)) {
      return reply(404, { message: "404 Project Not Found" });
    }
    const runner: FakeRunner = {
      id: nextId++,
      runner_type: type,
      description: "",
      tag_list: [],
      run_untagged: true,
      locked: false,
      access_level: "not_protected",
      maximum_timeout: null,
      paused: false,
      maintenance_note: null,
      token: `glrt-fake${Math.random().toString(36).slice(2)}`,
      ...pick(body),
    };
    if (type === "group_type") runner.group_id = body.group_id as number;
    if (type === "project_type") runner.project_id = body.project_id as number;
    const problems = validate(runner);
    if (problems) return reply(400, { message: problems });
    runners.set(runner.id, runner);
    reply(201, { id: runner.id, token: runner.token, token_expires_at: null });
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  return {
    url: `http://${host}${options.pathPrefix ?? ""}`,
    host,
    requests,
    runners,
    failNext: (status, body, headers) => injected.push({ status, body, headers }),
    hangNext: () => injected.push("hang"),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

const ATTRIBUTES = [
  "description",
  "tag_list",
  "run_untagged",
  "locked",
  "access_level",
  "maximum_timeout",
  "paused",
  "maintenance_note",
] as const;

function pick(body: Record<string, unknown> | undefined): Partial<FakeRunner> {
  const picked: Record<string, unknown> = {};
  for (const key of ATTRIBUTES) if (body && key in body) picked[key] = body[key];
  return picked as Partial<FakeRunner>;
}

/** GitLab's model validations on runners, with GitLab's error shape. */
function validate(runner: FakeRunner): Record<string, string[]> | undefined {
  const problems: Record<string, string[]> = {};
  if (runner.maximum_timeout !== null && runner.maximum_timeout < 600) {
    problems.maximum_timeout = ["needs to be at least 10 minutes"];
  }
  if (!runner.run_untagged && runner.tag_list.length === 0) {
    problems.tags_list = ["can not be empty when runner is not allowed to pick untagged jobs"];
  }
  return Object.keys(problems).length > 0 ? problems : undefined;
}

function publicView(runner: FakeRunner) {
  const { token: _token, ...rest } = runner;
  return { ...rest, active: !runner.paused };
}
