"""The scoring process: loads a model once and scores mini-batches sent over a pipe, one JSON line per
request and answer (before the answer, a line for each block of prediction rows ready to stage). It runs
apart from the caller so a hanging mini-batch can be stopped at its timeout."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import threading
import time
import traceback
from functools import partial
from pathlib import Path

from .contracts import BlockReady, ScoringAnswer, ScoringRequest

LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
DEFAULT_PARENT_CHECK_SECONDS = 1.0  # how soon a scoring process notices that its caller is gone
DEFAULT_LOG_TAIL_CHARS = 200_000  # the end of a mini-batch's output kept in its answer (the start is rarely the clue)


def serve(requests, answers) -> None:
    from .errors import ScoringUserError
    from .mini_batch import score_mini_batch
    from .scorers import load_scorer

    scorer, loaded_key = None, None
    for line in requests:
        if not line.strip():
            continue
        request = ScoringRequest.from_line(line)
        captured = io.StringIO()
        handler = logging.StreamHandler(captured)
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(LOG_LEVELS.get(request.logging_level, logging.INFO))
        try:
            with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
                if request.key != loaded_key:
                    scorer, loaded_key = None, None
                    try:
                        _report_environment(request.scorer.packages)
                        scorer = load_scorer(request.scorer)
                    except Exception as error:  # a user's model or init() can raise anything
                        raise _LoadFailed(error) from error
                    loaded_key = request.key
                os.environ["AZUREML_BI_OUTPUT_PATH"] = request.summary_dir
                part = Path(request.part_path) if request.part_path else None
                outcome = score_mini_batch(scorer, request.items, part, request.keep_parquet,
                                           partial(_block_ready, answers), request.max_blocks, request.block_bytes)
            answer = ScoringAnswer(ok=True, outcome=outcome)
        except _LoadFailed as failed:
            error = failed.__cause__
            message = str(error) if isinstance(error, ScoringUserError) else f"{type(error).__name__}: {error}"
            answer = ScoringAnswer(ok=False, load_failed=True, error=message, trace=traceback.format_exc())
        except ScoringUserError as error:
            answer = ScoringAnswer(ok=False, error=str(error), trace=traceback.format_exc())
        except Exception as error:  # loading a user's model or script can raise anything
            answer = ScoringAnswer(ok=False, error=f"{type(error).__name__}: {error}", trace=traceback.format_exc())
        finally:
            logging.getLogger().removeHandler(handler)
        answer.log = captured.getvalue()[-DEFAULT_LOG_TAIL_CHARS:]
        answers.write(answer.to_line())
        answers.flush()


def _report_environment(packages: tuple[str, ...]) -> None:
    """The interpreter and the installed versions of the environment's packages, in the mini-batch's log."""
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    if packages:
        print(f"Scoring in Python {sys.version.split()[0]} ({sys.executable}): " +
              ", ".join(f"{name}=={version(name)}" for name in packages))


class _LoadFailed(Exception):
    """Loading the scorer raised: told apart from a mini-batch's own failure, since every attempt would fail."""


def _block_ready(answers, number: int, path: Path) -> None:
    """A progress line before the answer: a block of rows is ready for the caller to stage."""
    answers.write(BlockReady(number, str(path)).to_line())
    answers.flush()


def _leave_with(parent: int) -> None:
    """Exit once the caller is gone, even in the middle of a mini-batch that never returns (a hanging script
    reads no more requests, so it would never see its pipe close)."""
    while os.getppid() == parent:
        time.sleep(DEFAULT_PARENT_CHECK_SECONDS)
    os._exit(1)


def main() -> None:
    """Answers go to a private copy of stdout; whatever the model or script prints goes to stderr."""
    threading.Thread(target=_leave_with, args=(os.getppid(),), daemon=True, name="leave-with-caller").start()
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin, answers)


if __name__ == "__main__":
    main()
