"""Running a job's mini-batches on a worker: download the inputs, score them in a scoring process with the
deployment's timeout and retries, stage the prediction rows while they score, and record each result."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path, PurePosixPath
from typing import Callable

from azure.core.exceptions import ResourceNotFoundError

from registry.blob_folders import download_prefix
from registry.clock import now_iso
from registry.environment_builds import BUILT_MARK, build, environments_dir, interpreter_of
from registry.environment_specs import ResolvedEnvironment, requirement_name
from registry.errors import WorkspaceError
from registry.refs import parse_asset_ref, parse_datastore_uri
from registry.storage import RowsExist, TooManyForOneTransaction
from scoring.arriving_files import arrived, partial_path, unavailable
from scoring.contracts import BlockReady, ScorerSpec, ScoringAnswer, ScoringItem, ScoringRequest
from scoring.isolation import ScoringPool

from . import logs
from .contracts import ItemRows, JobError, MiniBatchResult, MiniBatchState, RunSummary
from .engine import JobEngine
from .inputs import InputFile, InputReader
from .job_storage import JobStorage
from .outputs import needs_parquet_part, rows_block_id, rows_blocks_per_mini_batch, together_block_id
from .planning import Plan, PlannedItem, plan_from_json
from .settings import (DEFAULT_DOWNLOAD_THREADS, DEFAULT_ERROR_CHARS, DEFAULT_JOBS_REMEMBERED,
                       DEFAULT_PROGRESS_SECONDS, DEFAULT_RECENT_JOB_SECONDS, DEFAULT_RETRY_PAUSE_SECONDS,
                       DEFAULT_STAGING_THREADS)
from .status import JobStatus
from .verdict import add_moves, over_threshold

log = logging.getLogger("batch_endpoints.jobs")


def concurrency(job: dict) -> int:
    """Mini-batches in flight at once: Azure ML's instance_count x max_concurrency_per_instance."""
    return job["resources"]["instance_count"] * job["settings"]["max_concurrency_per_instance"]


def scoring_threads(job: dict, cores: int) -> int:
    """Threads per scoring process, so parallel mini-batches x threads never exceeds the cores."""
    return max(1, cores // max(1, concurrency(job)))


INSTANCE_ID_SETTING = "WEBSITE_INSTANCE_ID"  # set by the platform on each instance of the app


def instance_name() -> str:
    """The instance of the app this worker runs on, so a job's mini-batches show how the work spread."""
    return os.environ.get(INSTANCE_ID_SETTING) or socket.gethostname()


def scorer_kind(job: dict) -> str:
    if job["code_configuration"]:
        return "custom"
    return "onnx" if job["model_format"] == "onnx" else "mlflow"


class MiniBatchRunner:
    """Lives as long as its worker process and is shared by the activities it runs at once: the plan, model
    and code folders are fetched once, and the scoring processes keep their loaded models between
    mini-batches."""

    def __init__(self, engine: JobEngine, cores: int):
        self.engine = engine
        self.cores = cores
        self.reader = InputReader(engine.registry.datastores)
        self.scoring = ScoringPool()
        self.staging = ThreadPoolExecutor(DEFAULT_STAGING_THREADS, thread_name_prefix="stage-rows")
        self.plans: dict[str, Plan] = {}
        self.recent_jobs: dict[str, tuple[float, dict]] = {}
        self.cache_dir = Path(tempfile.mkdtemp(prefix="batch-scoring-cache-"))
        weakref.finalize(self, shutil.rmtree, self.cache_dir, ignore_errors=True)  # also when the worker exits
        self._lock = threading.Lock()

    def run_range(self, name: str, start: int, end: int, failed_before: int = 0, threshold: int = -1) -> RunSummary:
        """Mini-batches start..end-1 one after another, each exactly as if run alone (its own retries, part,
        logs and record); stops after a canceled one or once the failed files (this run's, those known when
        it was scheduled, or the job's recorded count) pass error_threshold.
        The next mini-batch's files download while one scores; results are stored (and the job's live counts
        moved) together while the next ones score, every DEFAULT_PROGRESS_SECONDS, and all before this
        returns."""
        status, rows, failed_files, fatal = MiniBatchState.SUCCEEDED, 0, 0, False
        with ThreadPoolExecutor(DEFAULT_DOWNLOAD_THREADS) as downloads, \
                Progress(lambda results: self.engine.records.record_mini_batches(name, results),
                         lambda moved: self._move_counts(name, moved),
                         together=lambda results, rows: self._store_together(name, results, rows),
                         together_bytes=self.engine.settings.rows_block_bytes) as progress:
            prepared = [self._inputs(name, start, downloads)]  # inputs downloading, oldest first
            try:
                for index in range(start, end):
                    job = self._job(name)
                    failed = max(failed_before + failed_files, job["counts"]["files_failed"])
                    if JobStatus(job["status"]).scores_mini_batches and over_threshold(failed, threshold):
                        break  # the job's other runs have failed enough files already
                    if index + 1 < end:
                        prepared.append(self._inputs(name, index + 1, downloads))
                    inputs = prepared.pop(0)
                    result = self._run(job, index, inputs)
                    progress.add(result, inputs.held_rows)
                    rows += result.rows
                    failed_files += len(result.failed_files)
                    if result.status is MiniBatchState.CANCELED:
                        status = MiniBatchState.CANCELED
                        break
                    if result.failed:
                        status = MiniBatchState.FAILED
                    if result.fatal is not None:
                        fatal = True
                        break
                    if over_threshold(failed_before + failed_files, threshold):
                        break
            finally:
                for inputs in prepared:
                    inputs.close()
        return RunSummary(status=status, rows=rows, failed_files=failed_files, fatal=fatal)

    def _inputs(self, name: str, index: int, downloads: ThreadPoolExecutor) -> MiniBatchInputs:
        return MiniBatchInputs(self._plan(name)[index], downloads, self._fetch)

    def _run(self, job: dict, index: int, inputs: MiniBatchInputs) -> MiniBatchResult:
        started = now_iso()
        try:
            if not JobStatus(job["status"]).scores_mini_batches:
                result = MiniBatchResult(index=index, status=MiniBatchState.CANCELED)
            else:
                result = self._score(job, index, inputs)
        finally:
            inputs.close()
        return result.model_copy(update={"started_at": started, "ended_at": now_iso(), "host": instance_name()})

    def _move_counts(self, name: str, moved: dict[str, int]) -> None:
        counted = self.engine.records.add_counts(name, moved)
        self._remember(self.recent_jobs, name, (time.monotonic(), counted.body))

    def _job(self, name: str) -> dict:
        """The job as this process last wrote it, if within DEFAULT_RECENT_JOB_SECONDS (so a cancel is seen
        within that time), else as stored."""
        seen = self.recent_jobs.get(name)
        if seen is not None and time.monotonic() - seen[0] < DEFAULT_RECENT_JOB_SECONDS:
            return seen[1]
        job = self.engine.records.get(name).body
        self._remember(self.recent_jobs, name, (time.monotonic(), job))
        return job

    def _stopped(self, name: str) -> bool:
        """Asked while a mini-batch scores: has its job stopped taking mini-batches (a cancel)?"""
        return not JobStatus(self.engine.records.get(name).body["status"]).scores_mini_batches

    def _plan(self, name: str) -> Plan:
        plan = self.plans.get(name)
        if plan is None:
            plan = plan_from_json(self.engine.storage_for(self._job(name)).read_plan())
            self._remember(self.plans, name, plan)
        return plan

    def _remember(self, cache: dict, name: str, value) -> None:
        """Keep value for job name, with the latest few other jobs' values and no older ones."""
        with self._lock:
            cache.pop(name, None)
            cache[name] = value
            for old in list(cache)[:-DEFAULT_JOBS_REMEMBERED]:
                cache.pop(old, None)

    def _request(self, job: dict, scorer: ScorerSpec, inputs: MiniBatchInputs) -> ScoringRequest:
        appending = job["settings"]["output_action"] == "append_row"
        mini_batches = job["counts"]["mini_batches"]
        return ScoringRequest(
            key=_key(job, scorer), scorer=scorer,
            items=[ScoringItem(str(path), item.name) for path, item in zip(inputs.paths, inputs.items)],
            part_path=str(inputs.part) if appending else None,
            keep_parquet=needs_parquet_part(bool(job["code_configuration"]), mini_batches, inputs.items),
            max_blocks=rows_blocks_per_mini_batch(mini_batches), block_bytes=self.engine.settings.rows_block_bytes,
            summary_dir=str(inputs.summary_dir), logging_level=job["settings"]["logging_level"])

    def _score(self, job: dict, index: int, inputs: MiniBatchInputs) -> MiniBatchResult:
        storage = self.engine.storage_for(job)
        try:
            scorer = self._scorer_spec(job)
        except WorkspaceError as error:
            return self._failed(storage, index, inputs.items, error.message, "", attempts=0)
        request = self._request(job, scorer, inputs)
        together = request.part_path is not None and not request.keep_parquet and not any(
            item.is_piece for item in inputs.items)  # rows that may share a block with the next mini-batches'
        retry = job["settings"]["retry_settings"]
        attempts, answer, attempt_logs, held = 0, None, [], None
        with self.scoring.borrowed(request.key) as process:  # it starts on the first file to arrive
            for attempts in range(1, retry["max_retries"] + 2):
                inputs.part.unlink(missing_ok=True)
                answer, held = self._attempt(process, request, retry["timeout"], scorer.threads, storage, index,
                                             job, together)
                if answer.log:
                    attempt_logs.append(f"--- attempt {attempts} ---\n{answer.log}")
                if answer.stopped or (answer.ok and not answer.outcome.failed):
                    break
                time.sleep(min(1.0, DEFAULT_RETRY_PAUSE_SECONDS * attempts))
        failure = inputs.storage_failure()
        if failure is not None:  # not the files' fault: no result, the activity fails and is retried
            raise failure
        if attempt_logs:
            storage.write_log(logs.mini_batch_stdout_log(index), "\n".join(attempt_logs))
        if answer.stopped:
            return MiniBatchResult(index=index, status=MiniBatchState.CANCELED, attempts=attempts)
        if answer.load_failed:
            return self._failed(storage, index, inputs.items, answer.error, answer.trace, attempts, fatal=JobError(
                code="ScoringScriptInitFailed" if job["code_configuration"] else "ModelLoadFailed",
                message=f"{answer.error} (mini-batch {index}, {attempts} attempt(s)); see "
                        f"{logs.mini_batch_error_log(index)}.", trace=answer.trace[-DEFAULT_ERROR_CHARS:]))
        if not answer.ok:
            return self._failed(storage, index, inputs.items, answer.error, answer.trace, attempts)
        if held is not None:
            inputs.held_rows = Path(held.path).read_bytes()
        return self._scored(storage, index, inputs, answer, attempts)

    def _attempt(self, process, request: ScoringRequest, timeout: float, threads: int, storage: JobStorage,
                 index: int, job: dict, together: bool) -> tuple[ScoringAnswer, BlockReady | None]:
        """One attempt; each block of rows is staged while the rest of the mini-batch scores, and all are
        staged before it returns (so a retry stages the same blocks again). A storage error fails the
        activity, which is retried. together: where the rows came as one block and every file scored, that
        block is not staged but handed back, to go into one block with the next mini-batches' rows."""
        appending = request.part_path is not None
        staged: list[Future] = []
        last: list[BlockReady] = []  # the latest block, staged once another comes

        def stage(block: BlockReady) -> None:
            if appending:
                if last:
                    staged.append(self.staging.submit(_stage_rows, storage, index, last.pop()))
                last.append(block)

        answer = process.score(request, timeout, threads, stage, lambda: self._stopped(job["name"]))
        held = last.pop() if last else None
        if held is not None and not (together and answer.ok and not answer.outcome.failed
                                     and answer.outcome.blocks == 1
                                     and os.path.getsize(held.path) <= self.engine.settings.rows_block_bytes):
            staged.append(self.staging.submit(_stage_rows, storage, index, held))
            held = None
        for staging in staged:
            staging.result()
        return answer, held

    def _store_together(self, name: str, results: list[MiniBatchResult], rows: list[bytes]) -> dict | None:
        """Stage the rows of consecutive mini-batches as one block, and store their results in one transaction
        (all or none). Where one of them was stored already (a repeated delivery) or they do not fit one
        transaction, each stages its own block and is stored on its own, as any mini-batch is."""
        storage = self.engine.storage_for(self._job(name))
        records = self.engine.records
        if len(results) > 1:
            head = results[0].index
            grouped = [results[0].model_copy(update={"together": len(results)})]
            grouped += [result.model_copy(update={"rows_in": head, "blocks": 0}) for result in results[1:]]
            try:
                return records.record_together(name, grouped, before=lambda: storage.stage_block(
                    together_block_id(head, len(results)), b"".join(rows)))
            except (RowsExist, TooManyForOneTransaction):
                pass
        for result, data in zip(results, rows):
            storage.stage_block(rows_block_id(result.index, 0), data)
        return records.record_mini_batches(name, results)

    def _scored(self, storage: JobStorage, index: int, inputs: MiniBatchInputs, answer: ScoringAnswer,
                attempts: int) -> MiniBatchResult:
        outcome = answer.outcome
        columns = None
        if outcome.rows:
            if inputs.part.exists():
                storage.upload_part(index, inputs.part)
            if outcome.blocks:
                columns = outcome.columns
        if any(inputs.summary_dir.iterdir()):
            storage.upload_summary(inputs.summary_dir)
        failed = outcome.failed
        if failed:
            storage.write_log(logs.mini_batch_error_log(index), logs.failure_report(
                index, [f.name for f in failed], "\n".join(f"{f.name}: {f.error}\n{f.trace}" for f in failed),
                attempts))
        return MiniBatchResult(
            index=index, status=MiniBatchState.FAILED if failed else MiniBatchState.SUCCEEDED, rows=outcome.rows,
            attempts=attempts, columns=columns, blocks=outcome.blocks if columns else 0,
            items=[ItemRows(name=item.name, piece=item.piece if item.is_piece else None, rows=rows)
                   for item, rows in zip(inputs.items, outcome.rows_per_item)],
            failed_files=[f.name for f in failed],
            error="; ".join(f"{f.name}: {f.error}" for f in failed)[:DEFAULT_ERROR_CHARS] or None)

    def _fetch(self, item: PlannedItem, path: Path) -> None:
        """Download one input for the scoring process, or tell it why the file will not come. The file fails
        when it is at fault (refused, gone); when the storage is (it does not answer), the download raises too,
        and the mini-batch gets no result from this run (see MiniBatchInputs.storage_failure)."""
        try:
            self.reader.download(InputFile(item.name, item.uri, item.size), partial_path(path), item.range,
                                 item.header_bytes)
            arrived(path)
        except WorkspaceError as error:
            unavailable(path, error.message)
        except ResourceNotFoundError as error:
            unavailable(path, f"'{item.name}' could not be downloaded: it no longer exists ({error})")
        except Exception as error:  # the scoring process is told, so it does not wait forever
            unavailable(path, f"'{item.name}' could not be downloaded: {type(error).__name__}: {error}")
            raise

    def _failed(self, storage: JobStorage, index: int, items: list[PlannedItem], error: str, trace: str,
                attempts: int, fatal: JobError | None = None) -> MiniBatchResult:
        names = sorted({item.name for item in items})
        storage.write_log(logs.mini_batch_error_log(index), logs.failure_report(index, names, f"{error}\n{trace}",
                                                                                attempts))
        return MiniBatchResult(index=index, status=MiniBatchState.FAILED, attempts=attempts, failed_files=names,
                               error=error[:DEFAULT_ERROR_CHARS], fatal=fatal)

    def _scorer_spec(self, job: dict) -> ScorerSpec:
        azureml_model_dir, model_dir = self._model(job)
        code = job["code_configuration"]
        code_dir = self._folder(self.engine.registry.codes.get(code["code"])["path"],
                                self.cache_dir / f"code-{code['code'][-32:]}") if code else None
        environment = job["environment"]
        return ScorerSpec(kind=scorer_kind(job), model_dir=str(model_dir), azureml_model_dir=str(azureml_model_dir),
                          python=self._interpreter(environment) if environment else None,
                          packages=tuple(requirement_name(r) for r in environment["requirements"]) if environment
                          else (),
                          onnx_file=job["onnx_file"],
                          code_dir=str(code_dir) if code_dir else None,
                          scoring_script=code["scoring_script"] if code else None,
                          threads=scoring_threads(job, self.cores),
                          environment=job["settings"]["environment_variables"])

    def _interpreter(self, environment: dict) -> str:
        """The interpreter of the job's environment on this machine, built here if this machine has no build of
        it yet (another instance built it, or its folder was cleared)."""
        key = environment["key"]
        if not (environments_dir() / key / BUILT_MARK).exists():
            result = build(ResolvedEnvironment.from_json(environment))
            if not result.ok:
                raise WorkspaceError(f"The deployment's environment could not be built on this machine: "
                                     f"{result.log[-DEFAULT_ERROR_CHARS:]}")
        return str(interpreter_of(environments_dir(), key))

    def _model(self, job: dict) -> tuple[Path, Path]:
        """The model's files laid out as Azure ML lays them out: AZUREML_MODEL_DIR is
        `azureml-models/<name>/<version>` and holds the registered folder or file under its own name. Gives
        that directory and the folder a no-code scorer loads (the registered folder, or the one holding the
        registered file)."""
        ref = parse_asset_ref(job["model"], "model")
        directory = self.cache_dir / "azureml-models" / ref.name / str(ref.version)
        root = job["model_root"]
        model_dir = directory if root["single_file"] else directory / root["name"]
        self._folder(job["model_path"], model_dir)
        return directory, model_dir

    def _folder(self, uri: str, target: Path) -> Path:
        """The files under uri in target, fetched once per worker process."""
        if not target.exists():
            location = parse_datastore_uri(uri, "path")
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = target.parent / f".{target.name}.{threading.get_ident()}"
            download_prefix(self.engine.registry.datastores.container(location.datastore), location.path, staging)
            try:
                staging.rename(target)
            except OSError:  # another activity of this process fetched it first
                shutil.rmtree(staging, ignore_errors=True)
        return target


class Progress:
    """A run's results, stored together every DEFAULT_PROGRESS_SECONDS while the next mini-batches score (and
    the job's live counts moved by them), and the rest when the run ends: a run of many small mini-batches
    writes a few table transactions and its job's record a few times instead of once each. Rows handed over
    with their result (a mini-batch's one block, not staged yet) go to `together` with those of the mini-batches
    right after it, up to about together_bytes: one block and one transaction for them all. What could not be
    written (results, or the moves of results stored) stays for the next time; a failure the last time fails
    the activity, which is retried."""

    def __init__(self, record: Callable[[list[MiniBatchResult]], dict[str, int] | None],
                 move: Callable[[dict[str, int]], None], period: float = DEFAULT_PROGRESS_SECONDS, *,
                 together: Callable[[list[MiniBatchResult], list[bytes]], dict[str, int] | None] | None = None,
                 together_bytes: int = 0):
        self.record, self.move, self.period = record, move, period
        self.together, self.together_bytes = together, together_bytes
        self.pending: list[MiniBatchResult] = []
        self.held: dict[int, bytes] = {}  # rows of pending results, by mini-batch index
        self.moved: dict[str, int] | None = None  # of results stored, not yet on the job's record
        self.lock = threading.Lock()  # guards pending and held
        self.storing = threading.Lock()  # one store at a time
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._every_period, daemon=True, name="store-results")

    def __enter__(self) -> "Progress":
        self.thread.start()
        return self

    def __exit__(self, kind, error, trace) -> None:
        self.stopped.set()
        self.thread.join()
        if kind is None:
            self.flush()
            return
        try:  # the run failed: what it scored is still worth keeping
            self.flush()
        except Exception:
            log.warning("results of a failed run could not be stored", exc_info=True)

    def add(self, result: MiniBatchResult, rows: bytes | None = None) -> None:
        """rows: the mini-batch's rows as one block, staged with its neighbours' before its result is stored."""
        with self.lock:
            self.pending.append(result)
            if rows is not None:
                self.held[result.index] = rows
            full = sum(map(len, self.held.values())) >= 2 * self.together_bytes > 0
        if full:  # memory holds about two blocks of rows: rows that cannot be staged fail the run, retried
            self.flush()

    def flush(self) -> None:
        with self.storing:
            with self.lock:
                results, self.pending = self.pending, []
                held, self.held = self.held, {}
            stored: set[int] = set()
            try:
                for step, rows in self._steps(results, held):
                    moved = self.record(step) if rows is None else self.together(step, rows)
                    stored.update(result.index for result in step)
                    if moved is not None:
                        self.moved = moved if self.moved is None else add_moves(self.moved, moved)
            except BaseException:
                with self.lock:
                    self.pending[:0] = [result for result in results if result.index not in stored]
                    self.held.update({index: data for index, data in held.items() if index not in stored})
                if self.moved is not None:  # what was stored moves the counts now: the next store may never come
                    try:
                        self.move(self.moved)
                        self.moved = None
                    except Exception:
                        log.warning("the job's live counts could not be moved yet", exc_info=True)
                raise
            if self.moved is not None:
                self.move(self.moved)
                self.moved = None

    def _steps(self, results: list[MiniBatchResult], held: dict[int, bytes]):
        """The results without rows held, stored as they are; then runs of consecutive mini-batches with rows
        held, each up to about together_bytes of rows."""
        plain = [result for result in results if result.index not in held]
        if plain:
            yield plain, None
        group: list[MiniBatchResult] = []
        size = 0
        for result in sorted((r for r in results if r.index in held), key=lambda r: r.index):
            if group and (result.index != group[-1].index + 1 or size + len(held[result.index]) > self.together_bytes):
                yield group, [held[r.index] for r in group]
                group, size = [], 0
            group.append(result)
            size += len(held[result.index])
        if group:
            yield group, [held[r.index] for r in group]

    def _every_period(self) -> None:
        while not self.stopped.wait(self.period):
            try:
                self.flush()
            except Exception:  # the storage did not answer: they go with the next store
                log.warning("results could not be stored yet; trying again", exc_info=True)


class MiniBatchInputs:
    """A mini-batch's input files, downloading into a folder of its own from the moment it is planned to run,
    so they can arrive while the mini-batch before it scores."""

    def __init__(self, items: list[PlannedItem], downloads: ThreadPoolExecutor, fetch):
        self.items = items
        self.held_rows: bytes | None = None  # its rows as one block, to be staged with the next mini-batches'
        self.folder = Path(tempfile.mkdtemp(prefix="mini-batch-"))
        self.part = self.folder / "part.parquet"
        self.summary_dir = self.folder / "summary"
        self.summary_dir.mkdir()
        self.paths = [self.folder / "inputs" / str(number) / PurePosixPath(item.name).name
                      for number, item in enumerate(items)]
        self.downloads = [downloads.submit(fetch, item, path) for item, path in zip(items, self.paths)]

    def storage_failure(self) -> BaseException | None:
        """The error of a download that failed because the storage did not answer, if one did. Counting the
        file as failed would let a job complete without its rows, so the mini-batch must be scored again."""
        return next((d.exception() for d in self.downloads if d.done() and not d.cancelled() and d.exception()),
                    None)

    def close(self) -> None:
        for download in self.downloads:
            download.cancel()
        wait(self.downloads)
        shutil.rmtree(self.folder, ignore_errors=True)


def _stage_rows(storage: JobStorage, index: int, block: BlockReady) -> None:
    """Stage one block of a mini-batch's rows in the predictions file; a retry re-stages the same blocks."""
    storage.stage_block(rows_block_id(index, block.number), Path(block.path).read_bytes())


def _key(job: dict, spec: ScorerSpec) -> str:
    text = json.dumps([job["model"], job["code_configuration"], spec.environment, spec.threads, spec.python],
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
