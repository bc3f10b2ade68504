import { strict as assert } from "node:assert";
import { runsInBuildContainer, stageCommand } from "../../../driver/stages/run";
import { IMAGE_TASK } from "../../../driver/contract/imageTasks";

/** gitlab-runner's build stages (common/build.go, checked against its source), as its custom executor names them to the run stage. */
const COORDINATOR_STAGES = [
  "prepare_script",
  "get_sources",
  "clear_worktree",
  "restore_cache",
  "download_artifacts",
  "archive_cache",
  "archive_cache_on_failure",
  "upload_artifacts_on_success",
  "upload_artifacts_on_failure",
  "cleanup_file_variables",
];
/** The job's own commands: `script` arrives as build_script (the custom executor renames step_script), other steps as step_<name>. */
const USER_STAGES = ["build_script", "step_script", "step_release", "after_script", "a_stage_of_a_later_runner"];

describe("run stage routing in a task with the job's image", () => {
  it("runs the job's own commands in the build container and everything else in ci-coordinator", () => {
    for (const stage of USER_STAGES) {
      assert.ok(runsInBuildContainer(stage), stage);
      assert.equal(stageCommand(stage, true), IMAGE_TASK.enterBuild, stage);
    }
    for (const stage of COORDINATOR_STAGES) {
      assert.ok(!runsInBuildContainer(stage), stage);
      assert.match(stageCommand(stage, true), /^umask 0000 && exec bash$/, stage);
    }
  });

  it("runs every stage in bash exactly as before when the task has no build container", () => {
    for (const stage of [...USER_STAGES, ...COORDINATOR_STAGES]) assert.equal(stageCommand(stage, false), "bash");
  });
});
