"""The pure parts of the API's limits: byte ranges, conditional requests, bounds on what a resource holds, and
job errors that carry no traceback."""
from __future__ import annotations

import pytest

from function_app.http_api import byte_range
from jobs.contracts import JobError
from registry.errors import AlreadyExists, NotFound, PreconditionFailed, RangeNotSatisfiable, ValidationFailed
from registry.optimistic import Preconditions
from registry.resources import BatchDeploymentSettings, BatchEndpointSpec, parse
from registry.schedule_triggers import CronTrigger


@pytest.mark.parametrize("header, expected", [
    (None, None), ("bytes=0-99", (0, 99)), ("bytes=100-", (100, 999)), ("bytes=-10", (990, 999)),
    ("bytes=0-5000", (0, 999)), ("bytes=0-", (0, 999)), ("bytes=-5000", (0, 999)),
])
def test_a_range_is_the_bytes_asked_within_the_file(header, expected):
    assert byte_range(header, 1000, 10_000) == expected


def test_a_range_is_cut_to_the_most_one_answer_holds():
    assert byte_range("bytes=0-", 1000, 300) == (0, 299)
    assert byte_range("bytes=900-", 1000, 300) == (900, 999)


@pytest.mark.parametrize("header", ["items=0-1", "bytes=a-b", "bytes=0-1,5-6", "bytes=-", "bytes"])
def test_a_malformed_range_is_a_400_naming_range(header):
    with pytest.raises(ValidationFailed) as refused:
        byte_range(header, 1000, 10_000)
    assert refused.value.target == "Range"


def test_a_range_outside_the_file_is_a_416():
    with pytest.raises(RangeNotSatisfiable):
        byte_range("bytes=1000-", 1000, 10_000)
    with pytest.raises(RangeNotSatisfiable):
        byte_range("bytes=5-2", 1000, 10_000)


def test_if_none_match_star_only_creates_and_if_match_needs_the_resource():
    created = Preconditions(create_only=True).put(lambda: "created", lambda: "replaced")
    assert created == ("created", True)

    def exists():
        raise AlreadyExists("Batch endpoint 'a' already exists.")

    with pytest.raises(AlreadyExists):
        Preconditions(create_only=True).put(exists, lambda: "replaced")
    assert Preconditions().put(exists, lambda: "replaced") == ("replaced", False)

    def missing():
        raise NotFound("Batch endpoint 'a' was not found.")

    with pytest.raises(PreconditionFailed) as failed:
        Preconditions(if_match='"x"').put(lambda: "created", missing)
    assert failed.value.target == "If-Match"
    with pytest.raises(NotFound):
        Preconditions().on_existing(missing)
    with pytest.raises(PreconditionFailed):
        Preconditions(if_match='"old"').check_existing('"new"', "Datastore 'd'")
    Preconditions(if_match="*").check_existing('"new"', "Datastore 'd'")


@pytest.mark.parametrize("settings, target", [
    ({"mini_batch_size": True}, "mini_batch_size"), ({"mini_batch_size": 10 ** 30}, "mini_batch_size"),
    ({"mini_batch_size": "10"}, "mini_batch_size"), ({"error_threshold": 2 ** 40}, "error_threshold"),
    ({"retry_settings": {"timeout": False}}, "retry_settings.timeout"),
    ({"output_file_name": "a/b.csv"}, "output_file_name"), ({"max_concurrency_per_instance": 1000},
                                                             "max_concurrency_per_instance"),
])
def test_counts_are_whole_numbers_within_their_bounds(settings, target):
    with pytest.raises(ValidationFailed) as refused:
        parse(BatchDeploymentSettings, settings)
    assert refused.value.target == target


def test_tags_and_descriptions_are_bounded():
    with pytest.raises(ValidationFailed) as refused:
        parse(BatchEndpointSpec, {"tags": {str(i): "v" for i in range(101)}})
    assert refused.value.target == "tags"
    with pytest.raises(ValidationFailed) as refused:
        parse(BatchEndpointSpec, {"description": "x" * 8001})
    assert refused.value.target == "description"
    assert parse(BatchEndpointSpec, {"tags": {"n": 16, "flag": True}}).tags == {"n": "16", "flag": "true"}


@pytest.mark.parametrize("expression", ["0 0 30 2 *", "0 0 31 4 *", "1-0 * * * *", "0 0 * * 5-1"])
def test_a_cron_that_never_fires_or_runs_backwards_is_refused(expression):
    with pytest.raises(ValueError):
        CronTrigger(type="cron", expression=expression)


def test_a_cron_of_a_leap_day_is_kept():
    assert CronTrigger(type="cron", expression="0 0 29 2 *").expression == "0 0 29 2 *"


def test_a_system_error_of_a_job_keeps_the_reason_and_drops_the_traceback():
    failure = Exception("ServiceRequestError: connection refused \n Traceback (most recent call last):\n"
                        '  File "/srv/app/jobs/inputs.py", line 3, in list_files\n')
    error = JobError.system(failure)
    assert error.code == "SystemError" and error.message == "ServiceRequestError: connection refused"
    assert JobError.system(Exception("")).message == "Exception"
