"""Every tunable of the job engine, once, with the reason for its value. The three that an app setting may
change are read from the environment once per process (`engine_settings()`); the rest are constants."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

# -- app settings ----------------------------------------------------------------------------------------
SLICE_SIZE_SETTING = "BATCH_SLICE_SIZE"
DEFAULT_SLICE_SIZE = 200  # mini-batches per sub-orchestration: bounds each history (replayed every episode)
SPLIT_BYTES_SETTING = "BATCH_SPLIT_BYTES"
DEFAULT_SPLIT_BYTES = 64 * 1024 * 1024  # a line-format file larger than this is cut into pieces scored apart
ROWS_BLOCK_SETTING = "BATCH_ROWS_BLOCK_BYTES"
DOWNLOAD_RANGE_SETTING = "BATCH_DOWNLOAD_RANGE_BYTES"
DEFAULT_DOWNLOAD_RANGE_BYTES = 32 * 1024 * 1024  # an output download's answer is held whole by the worker and
# the host: a larger file is read in ranges of this size, or whole straight from storage
DEFAULT_ROWS_BLOCK_BYTES = 4 * 1024 * 1024  # prediction rows staged as one block of the output blob: large
#   enough that a block's round trip is cheap against its bytes, small enough to stage while the rest scores

# -- the orchestration -----------------------------------------------------------------------------------
DEFAULT_MAX_MINI_BATCHES_PER_ACTIVITY = 32  # a run spares the orchestration's round trip (an episode and a
#   work item: about 20 ms of the host's CPU) between its mini-batches; this bounds an activity's length and the
#   work a crashed worker repeats
DEFAULT_ACTIVITY_FIRST_RETRY_MS = 2000  # an activity failed for a system reason (storage) is retried after this
DEFAULT_ACTIVITY_ATTEMPTS = 3  # ... this many times in all, then the job fails with the reason
DEFAULT_RESCORE_ROUNDS = 2  # rounds of scoring again the mini-batches finish finds no result for (lost writes)

# -- a worker running mini-batches -----------------------------------------------------------------------
DEFAULT_DOWNLOAD_THREADS = 4  # input files downloading at once per run: the next mini-batch's arrive meanwhile
DEFAULT_STAGING_THREADS = 2  # blocks of rows staged at once per worker while scoring goes on
DEFAULT_JOBS_REMEMBERED = 4  # plans and job records a worker keeps: the jobs it is likely running now
DEFAULT_RECENT_JOB_SECONDS = 1.0  # a job record this fresh is used as is, so a cancel is seen within a second
DEFAULT_PROGRESS_SECONDS = 1.0  # a run stores its results and moves its job's live counts at most this often
#   (and when it ends): a few writes for many small mini-batches instead of three each, racing for one record
DEFAULT_RETRY_PAUSE_SECONDS = 0.1  # pause before a mini-batch's next attempt, times the attempt (at most 1 s)

# -- inputs and outputs ----------------------------------------------------------------------------------
DEFAULT_URL_TIMEOUT_SECONDS = 60  # an http(s) input that sends nothing for this long fails its file
DEFAULT_LINE_PROBE_BYTES = 64 * 1024  # read this much at a time to find where a cut file's next line starts
DEFAULT_REWRITE_BLOCK_BYTES = 8 * 1024 * 1024  # blocks of a predictions file rewritten from Parquet parts: the
#   fan-in holds one in memory, and a blob's 50,000 of them still hold 400 GB
DEFAULT_RESTAGE_BATCH_ROWS = 16 * 1024  # rows of a cut file's later piece re-indexed at once by the fan-in: its CSV
#   writer holds about 4x its text in memory while it writes (measured)
MAX_COMMITTED_BLOCKS = 50_000  # Azure Blob storage's limit of blocks per block blob (a fact, not a choice)

DEFAULT_ERROR_CHARS = 2000  # of an error kept on a record (Table properties are small); logs keep it whole

# -- environments ----------------------------------------------------------------------------------------
DEFAULT_ENVIRONMENT_WAIT_SECONDS = 2.0  # a job on a deployment whose environment builds looks again after this

# -- cancel ----------------------------------------------------------------------------------------------
DEFAULT_CANCEL_WAIT_SECONDS = 15  # a cancel request waits this long for the job's finish before answering
DEFAULT_CANCEL_POLL_SECONDS = 0.25  # ... reading the job's record this often meanwhile


@dataclass(frozen=True)
class EngineSettings:
    slice_size: int = DEFAULT_SLICE_SIZE
    split_bytes: int = DEFAULT_SPLIT_BYTES
    rows_block_bytes: int = DEFAULT_ROWS_BLOCK_BYTES
    download_range_bytes: int = DEFAULT_DOWNLOAD_RANGE_BYTES

    @classmethod
    def from_environment(cls, environ=os.environ) -> "EngineSettings":
        def number(name: str, default: int) -> int:
            return int(environ.get(name) or default)

        return cls(slice_size=number(SLICE_SIZE_SETTING, DEFAULT_SLICE_SIZE),
                   split_bytes=number(SPLIT_BYTES_SETTING, DEFAULT_SPLIT_BYTES),
                   rows_block_bytes=number(ROWS_BLOCK_SETTING, DEFAULT_ROWS_BLOCK_BYTES),
                   download_range_bytes=number(DOWNLOAD_RANGE_SETTING, DEFAULT_DOWNLOAD_RANGE_BYTES))


@functools.cache
def engine_settings() -> EngineSettings:
    return EngineSettings.from_environment()
