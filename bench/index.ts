/**
 * `npm run bench`: measures the driver on the local Fargate (ECS emulator + network-namespace task hosts with the
 * real entrypoint and sshd). Never run as a test; figures go to stdout and bench/results/<date>.json and are
 * summarised by hand in docs/benchmarks.md. Needs root.
 *
 *   prepare overhead   prepare's exit − max(task RUNNING, sshd listening)                     target median ≤ 300 ms
 *   run stage          `run` of `true` vs a fresh OpenSSH `ssh … true` to the same task,
 *                      same key, pinned host key (also the first stage after prepare)       target ratio ≤ 0.5×
 *                      and vs the same login with the driver's key exchange (no sntrup761)
 *   config wall time   the config stage as deployed (cat of the answer rendered at registration),
 *                      and through the driver (`fargate custom config`)                       target ≤ 50 ms
 *   between stages     resident memory a job keeps on the manager (its SSH connection)        target ≤ 20 MB
 *   peak RSS           each stage process (/usr/bin/time -f %M)
 *   concurrency        50 jobs at once: wall time, failures, anything left                    target 0 / 0
 *
 * BENCH_NODE=<path> runs the driver's stages with another Node.js (the manager's version), BENCH_DRIVER=<path> another
 * build of the driver; NODE_EXTRA_CA_CERTS is dropped from their environment (see docs/benchmarks.md).
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { runDriverStage } from "../test/support/customExecutorHarness";
import { LocalFargate, startLocalFargate } from "../test/support/localFargate";
import { taskHostUnsupportedReason } from "../test/support/netnsTaskHost";
import { processesNaming } from "../test/support/managerProcesses";
import { KEX_ALGORITHMS } from "../driver/sshCommand";

const PREPARE_JOBS = Number(process.env.BENCH_PREPARE_JOBS ?? 12);
const RUN_SAMPLES = Number(process.env.BENCH_RUN_SAMPLES ?? 20);
const CONFIG_SAMPLES = Number(process.env.BENCH_CONFIG_SAMPLES ?? 20);
const CONCURRENT_JOBS = Number(process.env.BENCH_CONCURRENT_JOBS ?? 50);
const TIME = "/usr/bin/time";
const NODE = process.env.BENCH_NODE || process.execPath;
/** Another build of the driver's entry (e.g. an earlier commit's), for a before/after on the same machine. */
const DRIVER = process.env.BENCH_DRIVER || undefined;
const FIRST_STAGE_JOBS = Number(process.env.BENCH_FIRST_STAGE_JOBS ?? 8);

interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  p90: number;
}

function summarise(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))];
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(mid)] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { n: sorted.length, median, min: sorted[0], max: sorted[sorted.length - 1], p90: at(0.9) };
}

function show(label: string, s: Summary, unit: string): string {
  const f = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(unit === "×" ? 2 : 1));
  return `${label}: median ${f(s.median)} ${unit} (min ${f(s.min)}, p90 ${f(s.p90)}, max ${f(s.max)}; n=${s.n})`;
}

/** The running job's address, key and pinned host key, from its metadata file (the only one in the directory). */
function jobRecord(metadataDir: string): { host: string; privateKey: string; hostKey: string } {
  const file = readdirSync(metadataDir).find((name) => name.endsWith(".json"));
  if (!file) throw new Error(`no job metadata in ${metadataDir}`);
  return JSON.parse(readFileSync(join(metadataDir, file), "utf8")) as {
    host: string;
    privateKey: string;
    hostKey: string;
  };
}

/**
 * A fresh OpenSSH `ssh … true` to the job's task as a user would run it: the job's key, the host key pinned, no
 * configuration files and no connection sharing.
 */
function freshOpenSsh(metadataDir: string, dir: string, extraOptions: string[] = []): string[] {
  const record = jobRecord(metadataDir);
  const key = join(dir, "job-key");
  const knownHosts = join(dir, "known_hosts");
  writeFileSync(key, record.privateKey, { mode: 0o600 });
  chmodSync(key, 0o600);
  writeFileSync(knownHosts, `bench-task ${record.hostKey}\n`);
  const options = [
    "BatchMode=yes",
    "StrictHostKeyChecking=yes",
    `UserKnownHostsFile=${knownHosts}`,
    "HostKeyAlias=bench-task",
    "IdentitiesOnly=yes",
    `IdentityFile=${key}`,
    "ControlPath=none",
    "LogLevel=ERROR",
    ...extraOptions,
  ];
  return ["-F", "/dev/null", ...options.flatMap((o) => ["-o", o]), `root@${record.host}`, "true"];
}

/** Resident and proportional set size (MB) of the processes a job keeps on the manager between stages. */
function keptMemory(directory: string): { processes: number; rss: number; pss: number } {
  let rss = 0;
  let pss = 0;
  const pids = processesNaming(directory).map((line) => line.split(" ")[0]);
  for (const pid of pids) {
    const kb = (file: string, field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/${file}`, "utf8"))?.[1] ?? 0);
    rss += kb("status", "VmRSS") / 1024;
    pss += kb("smaps_rollup", "Pss") / 1024;
  }
  return { processes: pids.length, rss, pss };
}

function timed(file: string, args: string[]): Promise<{ ms: number; code: number | null }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    execFile(file, args, (error) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      resolve({ ms, code: error ? ((error as { code?: number }).code ?? null) : 0 });
    });
  });
}

/** Wraps every stage process in /usr/bin/time; files are read once the job is over. */
function rssRecorder(dir: string) {
  const files: { stage: string; file: string }[] = [];
  const wrap = (stage: string) => {
    const file = join(dir, `rss-${files.length}`);
    files.push({ stage: stage.startsWith("run:") ? "run" : stage, file });
    return [TIME, "-f", "%M", "-o", file];
  };
  const collect = () => {
    const samples = new Map<string, number[]>();
    for (const { stage, file } of files) {
      const kb = Number(readFileSync(file, "utf8").trim().split("\n").pop());
      samples.set(stage, [...(samples.get(stage) ?? []), kb / 1024]);
    }
    return samples;
  };
  return { wrap, collect, reset: () => void files.splice(0) };
}

/** One `run` of the script through the driver, as gitlab-runner calls it: ms from its start to its exit. */
async function timedRunStage(fargate: LocalFargate, env: NodeJS.ProcessEnv, script: string): Promise<number> {
  const started = Date.now();
  const run = await runDriverStage("run:build_script", ["run", script, "build_script"], env, {
    configFile: fargate.configFile,
    node: NODE,
    driver: DRIVER,
  });
  if (run.exitCode !== 0) throw new Error(`run failed: ${run.output}`);
  return run.endedAt - started;
}

/** One OpenSSH `ssh` with these arguments: ms. */
async function timedOpenSsh(args: string[]): Promise<number> {
  const ssh = await timed("ssh", args);
  if (ssh.code !== 0) throw new Error("OpenSSH ssh true failed");
  return ssh.ms;
}

async function benchPrepare(fargate: LocalFargate, dir: string) {
  const overhead: number[] = [];
  const prepare: number[] = [];
  const firstRun: number[] = [];
  const firstOpenSsh: number[] = [];
  const failures: string[] = [];
  const script = join(dir, "true.sh");
  writeFileSync(script, "#!/usr/bin/env bash\ntrue\n", { mode: 0o700 });
  for (let i = 0; i < PREPARE_JOBS; i++) {
    const before = fargate.taskHost.history().length;
    const result = await fargate.runJob(
      { jobId: 9_100 + i, script: ["true"] },
      {
        node: NODE,
        driver: DRIVER,
        runStages: false,
        // The first stage after prepare, then a fresh OpenSSH login, on the same task.
        afterPrepare: async (env) => {
          if (i >= FIRST_STAGE_JOBS) return;
          firstRun.push(await timedRunStage(fargate, env, script));
          firstOpenSsh.push(await timedOpenSsh(freshOpenSsh(fargate.metadataDir, dir)));
        },
      },
    );
    if (result.status !== "success") {
      failures.push(result.log.split("\n").find((line) => line.startsWith("ERROR")) ?? result.status);
      continue;
    }
    const task = fargate.taskHost.history()[before];
    const stage = result.stages.find((s) => s.stage === "prepare")!;
    if (!task?.listeningAt) throw new Error("sshd listening time not recorded");
    overhead.push(stage.endedAt - Math.max(task.launchedAt, task.listeningAt));
    prepare.push(stage.endedAt - stage.startedAt);
  }
  return { overhead, prepare, firstRun, firstOpenSsh, failures };
}

async function benchRun(fargate: LocalFargate, dir: string) {
  const driver: number[] = [];
  const openssh: number[] = [];
  const opensshDriverKex: number[] = [];
  const kept: ReturnType<typeof keptMemory>[] = [];
  const script = join(dir, "true.sh");
  // A failed prepare (see docs/benchmarks.md) skips afterPrepare: try again with a new job.
  for (let attempt = 0; attempt < 3 && driver.length === 0; attempt++) {
    await measureOnOneTask(9_300 + attempt);
  }
  if (driver.length === 0) throw new Error("no job reached the run stage in 3 attempts");
  return { driver, openssh, opensshDriverKex, kept };

  async function measureOnOneTask(jobId: number): Promise<void> {
    await fargate.runJob(
      { jobId, script: ["true"] },
      {
        node: NODE,
        driver: DRIVER,
        runStages: false,
        afterPrepare: async (env) => {
          const sshArgs = freshOpenSsh(fargate.metadataDir, dir);
          const driverKexArgs = freshOpenSsh(fargate.metadataDir, dir, [KEX_ALGORITHMS]);
          // Interleave the two so drift on a shared machine hits both alike.
          for (let i = 0; i < RUN_SAMPLES; i++) {
            driver.push(await timedRunStage(fargate, env, script));
            kept.push(keptMemory(fargate.metadataDir));
            openssh.push(await timedOpenSsh(sshArgs));
            opensshDriverKex.push(await timedOpenSsh(driverKexArgs));
          }
        },
      },
    );
  }
}

async function benchConfigAndRss(fargate: LocalFargate, dir: string) {
  const recorder = rssRecorder(dir);
  const config: number[] = [];
  let result = await fargate.runJob(
    { jobId: 9_400, script: ["echo rss"] },
    { wrap: recorder.wrap, keepTmpDir: true, node: NODE, driver: DRIVER },
  );
  for (let attempt = 1; attempt < 3 && result.status !== "success"; attempt++) {
    rmSync(result.tmpDir, { recursive: true, force: true });
    recorder.reset();
    result = await fargate.runJob(
      { jobId: 9_400 + attempt, script: ["echo rss"] },
      { wrap: recorder.wrap, keepTmpDir: true, node: NODE, driver: DRIVER },
    );
  }
  if (result.status !== "success") throw new Error(`rss job failed:\n${result.log}`);
  // As deployed, config_exec reads the answer the driver rendered at registration (register.sh does the same).
  const answer = join(dir, "config-stage.json");
  const deployed: number[] = [];
  for (let i = 0; i < CONFIG_SAMPLES; i++) {
    const run = await runDriverStage("config", ["config"], result.env, {
      configFile: fargate.configFile,
      node: NODE,
      driver: DRIVER,
    });
    if (run.exitCode !== 0) throw new Error(`config failed: ${run.output}`);
    config.push(run.endedAt - run.startedAt);
    writeFileSync(answer, run.stdout);
    const cat = await timed("/bin/cat", [answer]);
    if (cat.code !== 0) throw new Error("cat of the config answer failed");
    deployed.push(cat.ms);
  }
  rmSync(result.tmpDir, { recursive: true, force: true });
  return { config, deployed, rss: recorder.collect() };
}

/**
 * 50 jobs at once. Every job waits after prepare until all have prepared (or a minute passed), so the memory they
 * keep on the manager between stages is measured with all of them open; then they run and clean up.
 */
async function benchConcurrency(fargate: LocalFargate) {
  let arrived = 0;
  let release: () => void = () => undefined;
  const allPrepared = new Promise<void>((resolve) => (release = resolve));
  let held: ReturnType<typeof keptMemory> | undefined;
  const barrier = async () => {
    arrived += 1;
    if (arrived === 1) setTimeout(release, 60_000);
    if (arrived === CONCURRENT_JOBS) {
      held = keptMemory(fargate.metadataDir);
      release();
    }
    await allPrepared;
  };
  const started = Date.now();
  const results = await Promise.all(
    Array.from({ length: CONCURRENT_JOBS }, (_, i) =>
      fargate.runJob(
        { jobId: 9_500 + i, script: ['echo "job $CI_JOB_ID on $(hostname)"'] },
        { node: NODE, driver: DRIVER, afterPrepare: barrier },
      ),
    ),
  );
  const wall = Date.now() - started;
  const failures = results.filter((r) => r.status !== "success");
  const left = fargate.leftovers();
  const perJob = results.map((r) => r.stages[r.stages.length - 1].endedAt - r.stages[0].startedAt);
  return {
    wall,
    failures: failures.length,
    failureLogs: failures.slice(0, 3).map((r) => r.log.slice(-2000)),
    held,
    tasksLeft: left.tasks.length,
    namespacesLeft: left.namespaces.length,
    processesLeft: left.processes.length,
    filesLeft: fargate.metadataFiles(),
    perJob,
  };
}

async function main(): Promise<number> {
  const unsupported = taskHostUnsupportedReason();
  if (unsupported) {
    console.error(`npm run bench ${unsupported}.`);
    return 1;
  }
  if (!existsSync(TIME)) {
    console.error(`npm run bench needs ${TIME} for peak RSS (apt-get install time).`);
    return 1;
  }
  // A setting of this machine, not of the manager, which costs every Node.js 20 process ~70 ms at start.
  delete process.env.NODE_EXTRA_CA_CERTS;
  const dir = mkdtempSync(join(tmpdir(), "bench-"));
  // As the manager's launcher does (Node.js 22 and later keep the compiled bundles there).
  process.env.NODE_COMPILE_CACHE = join(dir, "compile-cache");
  const machine = {
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
    node: execFileSync(NODE, ["--version"], { encoding: "utf8" }).trim(),
    driver: DRIVER ?? "dist/driver/fargate.js",
    openssh: spawnSync("ssh", ["-V"], { encoding: "utf8" }).stderr.trim(),
    kernel: execFileSync("uname", ["-r"], { encoding: "utf8" }).trim(),
    loadAverage1m: loadavg()[0],
    date: new Date().toISOString(),
  };
  console.log(
    `machine: ${machine.nproc} CPU (${machine.cpu}), node ${machine.node}, load average ${machine.loadAverage1m.toFixed(1)}`,
  );
  const results: Record<string, unknown> = { machine };
  const fargate = await startLocalFargate();
  try {
    const prepare = await benchPrepare(fargate, dir);
    const firstRatios = prepare.firstRun.map((ms, i) => ms / prepare.firstOpenSsh[i]);
    results.prepare = {
      overhead: summarise(prepare.overhead),
      wall: summarise(prepare.prepare),
      failures: prepare.failures,
    };
    results.firstStage = {
      driver: summarise(prepare.firstRun),
      openssh: summarise(prepare.firstOpenSsh),
      ratio: summarise(firstRatios),
    };
    for (const failure of prepare.failures) console.log(`prepare failure: ${failure}`);
    console.log(show("prepare overhead (exit − max(RUNNING, sshd listening))", summarise(prepare.overhead), "ms"));
    console.log(show("prepare stage wall time", summarise(prepare.prepare), "ms"));
    console.log(show("first run stage after prepare, `true` via driver", summarise(prepare.firstRun), "ms"));
    console.log(show("  fresh OpenSSH ssh `true` right after it", summarise(prepare.firstOpenSsh), "ms"));
    console.log(show("  ratio driver / OpenSSH", summarise(firstRatios), "×"));

    const run = await benchRun(fargate, dir);
    const ratios = run.driver.map((ms, i) => ms / run.openssh[i]);
    const kexRatios = run.driver.map((ms, i) => ms / run.opensshDriverKex[i]);
    const keptRss = run.kept.map((k) => k.rss);
    results.run = {
      driver: summarise(run.driver),
      openssh: summarise(run.openssh),
      opensshDriverKex: summarise(run.opensshDriverKex),
      ratioDriverKex: summarise(kexRatios),
      ratio: summarise(ratios),
      keptBetweenStages: { rss: summarise(keptRss), pss: summarise(run.kept.map((k) => k.pss)) },
      keptProcesses: [...new Set(run.kept.map((k) => k.processes))],
    };
    console.log(show("run stage `true` via driver", summarise(run.driver), "ms"));
    console.log(show("fresh OpenSSH ssh `true`", summarise(run.openssh), "ms"));
    console.log(show("  the same with the driver's key exchange", summarise(run.opensshDriverKex), "ms"));
    console.log(show("ratio driver / OpenSSH", summarise(ratios), "×"));
    console.log(show("  ratio driver / OpenSSH with the driver's key exchange", summarise(kexRatios), "×"));
    console.log(show("kept between stages, RSS", summarise(keptRss), "MB"));
    console.log(show("kept between stages, PSS", summarise(run.kept.map((k) => k.pss)), "MB"));

    const { config, deployed, rss } = await benchConfigAndRss(fargate, dir);
    results.config = { deployed: summarise(deployed), driver: summarise(config) };
    console.log(
      show("config stage as deployed (config_exec /bin/cat of the rendered answer)", summarise(deployed), "ms"),
    );
    console.log(show("config stage via the driver (fargate custom config)", summarise(config), "ms"));
    const rssSummary: Record<string, Summary> = {};
    for (const [stage, values] of rss) {
      rssSummary[stage] = summarise(values);
      console.log(show(`peak RSS ${stage}`, rssSummary[stage], "MB"));
    }
    results.rss = rssSummary;

    const concurrency = await benchConcurrency(fargate);
    results.concurrency = { ...concurrency, perJob: summarise(concurrency.perJob) };
    console.log(
      `${CONCURRENT_JOBS} concurrent jobs: wall ${(concurrency.wall / 1000).toFixed(1)} s, failures ${concurrency.failures}, ` +
        `tasks left ${concurrency.tasksLeft}, namespaces left ${concurrency.namespacesLeft}, ` +
        `processes left ${concurrency.processesLeft}, files left ${concurrency.filesLeft.length}`,
    );
    if (concurrency.held) {
      const { processes, rss, pss } = concurrency.held;
      console.log(
        `  all ${CONCURRENT_JOBS} between stages: ${processes} processes, RSS ${rss.toFixed(1)} MB, PSS ${pss.toFixed(1)} MB`,
      );
    }
    console.log(show("  per-job wall time", summarise(concurrency.perJob), "ms"));
    for (const log of concurrency.failureLogs) console.log(`  failure log tail:\n${log}`);
  } finally {
    await fargate.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const out = join(__dirname, "results");
  mkdirSync(out, { recursive: true });
  const file = join(out, `${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results: ${file}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
