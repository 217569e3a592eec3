"""Following a job to its end: its progress, its log lines as they arrive, and the outcome in words. On a
terminal the progress is a live bar with the log lines scrolling above it; in a pipe, one plain line per
change, so a log file or a test reads the same facts."""
from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.text import Text

from .client import ApiClient, CliError

TERMINAL = ("Completed", "Failed", "Canceled")
STYLES = {"Completed": "green", "Failed": "red", "Canceled": "yellow"}
POLL_SECONDS = 1.0
LOGS = "logs/"
OVERVIEW = "logs/job_progress_overview.txt"  # the job record in words: the progress already shows it


class JobFailed(CliError):
    exit_code = 1


class LogTail:
    """A job's log files (outputs under logs/) as they appear and grow: each new line once, labelled with its
    file."""

    def __init__(self, client: ApiClient, name: str):
        self.client = client
        self.name = name
        self.read: dict[str, int] = {}

    def new_lines(self) -> list[str]:
        lines = []
        for file in self.client.get(f"jobs/{self.name}/outputs")["value"]:
            path, done = file["path"], self.read.get(file["path"], 0)
            if not path.startswith(LOGS) or path == OVERVIEW or file["size"] <= done:
                continue
            added = self.client.read_from(f"jobs/{self.name}/outputs/{path}", done)
            self.read[path] = done + len(added)
            label = path.removeprefix(LOGS).removeprefix("user/").removesuffix(".txt")
            lines += [f"{label} | {line}" for line in added.decode("utf-8", "replace").splitlines() if line.strip()]
        return lines


def counts_text(job: dict) -> str:
    counts = job["counts"]
    finished = counts["mini_batches_done"] + counts["mini_batches_failed"]
    failed = f"{counts['files_failed']} files failed"
    return (f"{finished}/{counts['mini_batches']} mini-batches  {counts['rows_scored']} rows  "
            + (f"[red]{failed}[/]" if counts["files_failed"] else failed))


class Display:
    """The progress of one job on a console: a live bar on a terminal, a line per change elsewhere."""

    def __init__(self, out: Console):
        self.out = out
        self.last = ""
        self.bar = Progress(TextColumn("{task.fields[status]:<12}"), BarColumn(), TaskProgressColumn(),
                            TextColumn("{task.fields[counts]}"), console=out, transient=True) \
            if out.is_terminal else None
        self.task = self.bar.add_task("job", total=100, status="", counts="") if self.bar else None

    def __enter__(self) -> "Display":
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar:
            self.bar.stop()

    def log(self, line: str) -> None:
        self.out.print(Text(line, style="dim"), soft_wrap=True)

    def update(self, job: dict) -> None:
        if self.bar:
            self.bar.update(self.task, completed=job.get("progress", 0) * 100, status=job["status"],
                            counts=counts_text(job))
            return
        line = f"{job['status']:<12} {job.get('progress', 0) * 100:5.1f}%  {Text.from_markup(counts_text(job))}"
        if line != self.last:
            self.out.print(line, markup=False)
            self.last = line


def outcome(job: dict) -> Text:
    """How the job ended, in words first: never a full bar next to a failure."""
    counts = job["counts"]
    status = job["status"]
    parts = [f"{counts['mini_batches_done']}/{counts['mini_batches']} mini-batches succeeded"]
    if counts["mini_batches_failed"]:
        parts.append(f"{counts['mini_batches_failed']} failed")
    parts += [f"{counts['rows_scored']} rows scored", f"{counts['files_failed']} files failed"]
    took = f" in {job['duration_seconds']:.1f} s" if job.get("duration_seconds") is not None else ""
    words = {"Completed": "completed", "Failed": "failed", "Canceled": "was canceled"}[status]
    return Text.assemble((f"Job {job['name']} {words}", f"bold {STYLES[status]}"), f": {', '.join(parts)}{took}.")


def follow(client: ApiClient, name: str, out: Console) -> dict:
    """Poll the job and its logs until it ends; the job when it completed, else JobFailed."""
    tail = LogTail(client, name)
    with Display(out) as display:
        while True:
            job = client.get(f"jobs/{name}")
            for line in tail.new_lines():
                display.log(line)
            if job["status"] in TERMINAL:
                break
            display.update(job)
            time.sleep(POLL_SECONDS)
    out.print(outcome(job))
    if job["status"] != "Completed":
        parts = (f"job {name} ended {job['status']}.", (job.get("error") or {}).get("message"),
                 f"Its logs: mlbatch job download -n {name} --output-name logs")
        raise JobFailed(" ".join(part for part in parts if part))
    return job


def summary(job: dict, out: Console) -> None:
    """What a person at a terminal needs after invoke: the job's name and state, and the commands that follow."""
    name, status = job["name"], job["status"]
    out.print(Text.assemble("Job ", (name, "bold"), ": ", (status, STYLES.get(status, "cyan")),
                            f" (endpoint {job['endpoint']}, deployment {job['deployment']})"))
    steps = [("its record", f"mlbatch job show -n {name}")]
    if status not in TERMINAL:
        steps.append(("follow it", f"mlbatch job stream -n {name}"))
    if status not in ("Failed", "Canceled") and job["settings"].get("output_action") != "summary_only":
        steps.append(("predictions", f"mlbatch job download -n {name} --output-name score"))
    steps.append(("logs", f"mlbatch job download -n {name} --output-name logs"))
    for what, command in steps:
        out.print(Text.assemble(f"  {what + ':':<13}", (command, "bold")), soft_wrap=True)
