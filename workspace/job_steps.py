"""The three steps of a scoring job, each run by an activity: prepare (list the input, check the output, plan
the mini-batches), score one mini-batch (download, score in the scoring process with timeout and retries,
upload its part), and finish (assemble the predictions file in input order, write the logs, set the status)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path, PurePosixPath

from scoring.arriving_files import arrived, partial_path, unavailable
from scoring.isolation import ScoringPool
from scoring.mini_batch import DEFAULT_ROWS_BLOCK_BYTES
from scoring.scorers import ScorerSpec

from . import job_logs
from .blob_folders import delete_prefix, download_prefix, upload_folder
from .clock import now_iso
from .errors import UserError, WorkspaceError
from .job_inputs import InputFile, InputReader
from .job_outputs import (OutputAlreadyExists, assemble_predictions, needs_parquet_part, part_name, predictions_blob,
                          rows_blocks_per_mini_batch, stage_rows)
from .mini_batches import DEFAULT_SPLIT_BYTES, plan_mini_batches
from .refs import parse_datastore_uri
from .service import Workspace

INTERNAL_CONTAINER = "batch-jobs-internal"
SPLIT_BYTES_SETTING = "BATCH_SPLIT_BYTES"
ROWS_BLOCK_SETTING = "BATCH_ROWS_BLOCK_BYTES"
DOWNLOAD_THREADS = 4
STAGING_THREADS = 2
JOBS_REMEMBERED = 4  # plans and job records kept per worker process
RECENT_JOB_SECONDS = 1.0
STOPPED = ("CancelRequested", "Canceled", "Failed")  # a mini-batch of such a job is not scored


def internal_prefix(job: str) -> str:
    return f"{job}/"


def parts_prefix(job: str) -> str:
    return f"{internal_prefix(job)}parts/"


def split_bytes() -> int:
    return int(os.environ.get(SPLIT_BYTES_SETTING) or DEFAULT_SPLIT_BYTES)


def rows_block_bytes() -> int:
    """About how many bytes of prediction rows make one block of the predictions file."""
    return int(os.environ.get(ROWS_BLOCK_SETTING) or DEFAULT_ROWS_BLOCK_BYTES)


def concurrency(job: dict) -> int:
    """Mini-batches in flight at once: Azure ML's instance_count x max_concurrency_per_instance."""
    return job["resources"]["instance_count"] * job["settings"]["max_concurrency_per_instance"]


def over_threshold(failed_files: int, threshold: int) -> bool:
    return threshold != -1 and failed_files > threshold


def scoring_threads(job: dict) -> int:
    """Threads per scoring process, so parallel mini-batches x threads never exceeds the cores."""
    return max(1, (os.cpu_count() or 1) // max(1, concurrency(job)))


# -- prepare ---------------------------------------------------------------------------------------
def prepare_job(workspace: Workspace, name: str) -> dict:
    jobs = workspace.jobs
    record = jobs.set_status(name, "Preparing")
    job = record.body
    if job["status"] != "Preparing":
        return {"proceed": False}
    try:
        reader = InputReader(workspace.datastores)
        if job["input"].get("files") is not None:
            files = [InputFile(**file) for file in job["input"]["files"]]
        else:
            files = reader.list_files(job["input"]["uri"], job["input"]["type"])
        output = job["output"]
        if job["settings"]["output_action"] == "append_row":
            target = workspace.datastores.container(output["datastore"]).get_blob_client(
                output["folder"] + output["file_name"])
            if target.exists():
                raise OutputAlreadyExists(f"The output file {output['uri']} already exists. Give another output path or "
                                   "output_file_name; nothing was overwritten.")
        plan = plan_mini_batches(files, job["settings"]["mini_batch_size"], split_bytes(),
                                 job["model_format"] != "custom" and not job.get("code_configuration"),
                                 reader.next_line_start)
        workspace.storage.container(INTERNAL_CONTAINER).upload_blob(
            f"{internal_prefix(name)}plan.json", json.dumps(plan), overwrite=True)
        counts = {**job["counts"], "files": len(files), "mini_batches": len(plan)}
        job = jobs.set_status(name, "Running", known=record, counts=counts).body
        job_logs.write_overview(workspace, job, "Scoring started.")
    except UserError as error:
        fail(workspace, name, error.code, error.message)
        return {"proceed": False}
    return {"proceed": job["status"] == "Running", "mini_batches": len(plan), "window": concurrency(job),
            "error_threshold": job["settings"]["error_threshold"]}


def fail(workspace: Workspace, name: str, code: str, message: str) -> dict:
    job = workspace.jobs.set_status(name, "Failed", error={"code": code, "message": message}).body
    job_logs.write_overview(workspace, job, message)
    return job


# -- score one mini-batch --------------------------------------------------------------------------
class MiniBatchRunner:
    """Lives as long as its worker process and is shared by the activities it runs at once: the plan, model
    and code folders are fetched once, and the scoring processes keep their loaded models between
    mini-batches."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.reader = InputReader(workspace.datastores)
        self.scoring = ScoringPool()
        self.staging = ThreadPoolExecutor(STAGING_THREADS, thread_name_prefix="stage-rows")
        self.plans: dict[str, list] = {}
        self.recent_jobs: dict[str, tuple[float, dict]] = {}
        self.cache_dir = Path(tempfile.mkdtemp(prefix="batch-scoring-cache-"))
        self._lock = threading.Lock()

    def run_range(self, name: str, start: int, end: int, failed_before: int = 0, threshold: int = -1) -> dict:
        """Mini-batches start..end-1 one after another, each exactly as if run alone (its own retries, part,
        logs and record); stops after a canceled one or once the failed files (this run's, those known when
        it was scheduled, or the job's recorded count) pass error_threshold.
        The next mini-batch's files download while one scores, and its record is written while the next
        scores; all are written before this returns."""
        total = {"status": "succeeded", "rows": 0, "failed_files": 0}
        with ThreadPoolExecutor(DOWNLOAD_THREADS) as downloads, ThreadPoolExecutor(1) as recorder:
            records, prepared = [], [self._inputs(name, start, downloads)]  # inputs downloading, oldest first
            try:
                for index in range(start, end):
                    job = self._job(name)
                    failed = max(failed_before + total["failed_files"], job["counts"].get("files_failed", 0))
                    if job["status"] not in STOPPED and over_threshold(failed, threshold):
                        break  # the job's other runs have failed enough files already
                    if index + 1 < end:
                        prepared.append(self._inputs(name, index + 1, downloads))
                    summary = self._run(job, index, prepared.pop(0), recorder, records)
                    total["rows"] += summary["rows"]
                    total["failed_files"] += summary["failed_files"]
                    if summary["status"] == "canceled":
                        total["status"] = "canceled"
                        break
                    if summary["status"] == "failed":
                        total["status"] = "failed"
                    if over_threshold(failed_before + total["failed_files"], threshold):
                        break
            finally:
                for inputs in prepared:
                    inputs.close()
            for record in records:
                record.result()  # a record that could not be written fails the activity, which is retried
        return total

    def _inputs(self, name: str, index: int, downloads: ThreadPoolExecutor) -> MiniBatchInputs:
        return MiniBatchInputs(self._plan(name)[index], downloads, self._fetch)

    def _run(self, job: dict, index: int, inputs: MiniBatchInputs, recorder: ThreadPoolExecutor,
             records: list) -> dict:
        started = now_iso()
        try:
            if job["status"] in STOPPED:
                result = {"status": "canceled", "rows": 0, "failed_files": [], "started_at": started,
                          "ended_at": now_iso()}
            else:
                result = self._score(job, index, inputs)
                result.update(started_at=started, ended_at=now_iso())
        finally:
            inputs.close()
        records.append(recorder.submit(self._record, job["name"], index, result))
        return _summary(result)

    def _record(self, name: str, index: int, result: dict) -> None:
        counted = self.workspace.jobs.record_mini_batch(name, index, result)
        if counted is not None:
            self._remember(self.recent_jobs, name, (time.monotonic(), counted.body))

    def _job(self, name: str) -> dict:
        """The job as this process last wrote it, if within RECENT_JOB_SECONDS (so a cancel is seen within
        that time), else as stored."""
        seen = self.recent_jobs.get(name)
        if seen is not None and time.monotonic() - seen[0] < RECENT_JOB_SECONDS:
            return seen[1]
        return self.workspace.jobs.get(name).body

    def _plan(self, name: str) -> list:
        plan = self.plans.get(name)
        if plan is None:
            blob = self.workspace.storage.container(INTERNAL_CONTAINER).download_blob(
                f"{internal_prefix(name)}plan.json")
            plan = json.loads(blob.readall())
            self._remember(self.plans, name, plan)
        return plan

    def _remember(self, cache: dict, name: str, value) -> None:
        """Keep value for job name, with the latest few other jobs' values and no older ones."""
        with self._lock:
            cache.pop(name, None)
            cache[name] = value
            for old in list(cache)[:-JOBS_REMEMBERED]:
                cache.pop(old, None)

    def _score(self, job: dict, index: int, inputs: MiniBatchInputs) -> dict:
        items = inputs.items
        try:
            scorer = self._scorer_spec(job)
        except WorkspaceError as error:
            return self._failed(job, index, items, error.message, "", attempts=0)
        settings = job["settings"]
        part = inputs.folder / "part.parquet"
        summary_dir = inputs.folder / "summary"
        summary_dir.mkdir()
        appending = settings["output_action"] == "append_row"
        request = {
            "key": _key(job, scorer), "scorer": scorer.__dict__,
            "items": [{"path": str(path), "name": item["name"]} for path, item in zip(inputs.paths, items)],
            "part_path": str(part) if appending else None,
            "keep_parquet": needs_parquet_part(job, items),
            "max_blocks": rows_blocks_per_mini_batch(job), "block_bytes": rows_block_bytes(),
            "summary_dir": str(summary_dir), "logging_level": settings["logging_level"],
        }
        target = predictions_blob(self.workspace, job) if appending else None
        attempts, answer, logs = 0, None, []
        with self.scoring.borrowed(request["key"]) as process:  # it starts on the first file to arrive
            for attempts in range(1, settings["retry_settings"]["max_retries"] + 2):
                part.unlink(missing_ok=True)
                staged = []  # each block of rows is staged while the rest of the mini-batch scores
                answer = process.score(request, settings["retry_settings"]["timeout"], scorer.threads,
                                       lambda block: staged.append(self.staging.submit(
                                           stage_rows, target, index, block["number"], Path(block["path"]))))
                for staging in staged:  # before a retry stages the same blocks again; a storage error fails
                    staging.result()    # the activity, which is retried
                if answer.log:
                    logs.append(f"--- attempt {attempts} ---\n{answer.log}")
                if answer.ok and not answer.outcome["failed"]:
                    break
                time.sleep(min(1.0, 0.1 * attempts))
        if logs:
            job_logs.write_text(self.workspace, job, f"logs/user/stdout/mini_batch_{index:06d}.txt", "\n".join(logs))
        if not answer.ok:
            return self._failed(job, index, items, answer.error, answer.trace, attempts)
        outcome = answer.outcome
        columns = None
        if outcome["rows"]:
            if part.exists():
                self.workspace.storage.container(INTERNAL_CONTAINER).upload_blob(
                    part_name(parts_prefix(job["name"]), index), part.read_bytes(), overwrite=True)
            if outcome["blocks"]:
                columns = outcome["columns"]
        if any(summary_dir.iterdir()):
            upload_folder(self.workspace.datastores.container(job["output"]["datastore"]), summary_dir,
                          job["output"]["folder"])
        failed = outcome["failed"]
        if failed:
            job_logs.write_text(self.workspace, job, f"logs/user/error/mini_batch_{index:06d}.txt",
                                job_logs.failure_report(index, [f["name"] for f in failed],
                                                        "\n".join(f"{f['name']}: {f['error']}\n{f['trace']}"
                                                                  for f in failed), attempts))
        return {"status": "failed" if failed else "succeeded", "rows": outcome["rows"], "attempts": attempts,
                "columns": columns, "blocks": outcome["blocks"] if columns else 0,
                "items": [{"name": i["name"], "piece": i["piece"] if i["range"] else None, "rows": r}
                          for i, r in zip(items, outcome["rows_per_item"])],
                "failed_files": [f["name"] for f in failed],
                "error": "; ".join(f"{f['name']}: {f['error']}" for f in failed)[:2000] or None}

    def _fetch(self, item: dict, path: Path) -> None:
        """Download one input for the scoring process, or tell it why the file will not come."""
        try:
            file = InputFile(item["name"], item["uri"], item["size"])
            self.reader.download(file, partial_path(path), tuple(item["range"]) if item["range"] else None,
                                 item["header_bytes"])
            arrived(path)
        except WorkspaceError as error:
            unavailable(path, error.message)
        except Exception as error:  # storage trouble: the file fails, the scoring process does not wait forever
            unavailable(path, f"'{item['name']}' could not be downloaded: {type(error).__name__}: {error}")

    def _failed(self, job: dict, index: int, items: list[dict], error: str, trace: str, attempts: int) -> dict:
        names = sorted({i["name"] for i in items})
        job_logs.write_text(self.workspace, job, f"logs/user/error/mini_batch_{index:06d}.txt",
                            job_logs.failure_report(index, names, f"{error}\n{trace}", attempts))
        return {"status": "failed", "rows": 0, "attempts": attempts, "items": [], "failed_files": names,
                "error": error[:2000]}

    def _scorer_spec(self, job: dict) -> ScorerSpec:
        model_dir = self._folder(job["model_path"], "model-" + job["model"].replace(":", "_"))
        code = job.get("code_configuration")
        kind = "custom" if code else ("onnx" if job["model_format"] == "onnx" else "mlflow")
        code_dir = self._folder(self.workspace.codes.get(code["code"])["path"], "code-" + code["code"][-32:]) \
            if code else None
        return ScorerSpec(kind=kind, model_dir=str(model_dir), onnx_file=job.get("onnx_file"),
                          code_dir=str(code_dir) if code_dir else None,
                          scoring_script=code["scoring_script"] if code else None, threads=scoring_threads(job),
                          environment=job["settings"]["environment_variables"])

    def _folder(self, uri: str, key: str) -> Path:
        target = self.cache_dir / key
        if not target.exists():
            location = parse_datastore_uri(uri, "path")
            staging = self.cache_dir / f".{key}.{threading.get_ident()}"
            download_prefix(self.workspace.datastores.container(location.datastore), location.path, staging)
            try:
                staging.rename(target)
            except OSError:  # another activity of this process fetched it first
                shutil.rmtree(staging, ignore_errors=True)
        return target


class MiniBatchInputs:
    """A mini-batch's input files, downloading into a folder of its own from the moment it is planned to run,
    so they can arrive while the mini-batch before it scores."""

    def __init__(self, items: list[dict], downloads: ThreadPoolExecutor, fetch):
        self.items = items
        self.folder = Path(tempfile.mkdtemp(prefix="mini-batch-"))
        self.paths = [self.folder / "inputs" / str(number) / PurePosixPath(item["name"]).name
                      for number, item in enumerate(items)]
        self.downloads = [downloads.submit(fetch, item, path) for item, path in zip(items, self.paths)]

    def close(self) -> None:
        for download in self.downloads:
            download.cancel()
        wait(self.downloads)
        shutil.rmtree(self.folder, ignore_errors=True)


def _key(job: dict, spec: ScorerSpec) -> str:
    text = json.dumps([job["model"], job.get("code_configuration"), spec.environment, spec.threads],
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _summary(result: dict) -> dict:
    return {"status": result["status"], "rows": result["rows"], "failed_files": len(result["failed_files"])}


# -- finish ----------------------------------------------------------------------------------------
def finish_job(workspace: Workspace, name: str, stopped: dict | None = None) -> dict:
    jobs = workspace.jobs
    record = jobs.get(name)
    job = record.body
    if job["status"] in ("Completed", "Failed", "Canceled"):
        return {"status": job["status"]}
    if job["status"] == "CancelRequested":
        job = jobs.set_status(name, "Canceled", known=record).body
        job_logs.write_overview(workspace, job, "The job was canceled.")
        return {"status": "Canceled"}
    results = jobs.mini_batch_results(name)
    counts = exact_counts(job, results)
    threshold = job["settings"]["error_threshold"]
    error = (stopped or {}).get("error")
    try:
        if error is None and over_threshold(counts["files_failed"], threshold):
            error = {"code": "ErrorThresholdExceeded",
                     "message": f"{counts['files_failed']} files failed, more than error_threshold {threshold}; "
                                "see logs/user/error.txt."}
        if error is None and job["settings"]["output_action"] == "append_row":
            record = jobs.set_status(name, "Finalizing", known=record, counts=counts)
            assemble_predictions(workspace, job, results, INTERNAL_CONTAINER, parts_prefix(name))
    except UserError as failure:
        error = {"code": failure.code, "message": failure.message}
    except Exception as failure:  # storage trouble while assembling: our fault, reported on the job
        error = {"code": "SystemError", "message": f"Assembling the outputs failed: {failure}"}
        traceback.print_exc()
    status = "Failed" if error else "Completed"
    job = jobs.set_status(name, status, known=record, counts=counts, error=error).body
    job_logs.write_error_summary(workspace, job, results)
    job_logs.write_overview(workspace, job, error["message"] if error else "The job completed.")
    delete_prefix(workspace.storage.container(INTERNAL_CONTAINER), internal_prefix(name))
    return {"status": job["status"]}


def exact_counts(job: dict, results: list[dict]) -> dict:
    done = [r for r in results if r["status"] == "succeeded"]
    failed = [r for r in results if r["status"] == "failed"]
    return {**job["counts"], "mini_batches_done": len(done), "mini_batches_failed": len(failed),
            "files_failed": len({f for r in results for f in r.get("failed_files", [])}),
            "rows_scored": sum(r.get("rows", 0) for r in results)}


def cancel_job(workspace: Workspace, name: str) -> dict:
    job = workspace.jobs.set_status(name, "Canceled").body
    job_logs.write_overview(workspace, job, "The job was canceled.")
    return job

