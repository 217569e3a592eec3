"""The studio's Data and Environments pages and the job page's pictures, in a real browser on the local runtime:
a folder uploaded (zipped in the browser) and scored, datastore paths browsed and picked as job inputs, a
failed build's log, the timeline, rows per second and predictions preview checked against the job's own
records, failure shown in the progress bars, and the rough edges around them."""
from __future__ import annotations

import csv
import io
import sys
import zipfile
from collections import Counter

import pytest
from playwright.sync_api import Page, expect

from tests.harness import wait_for
from tests.model_builders import zip_entries
from tests.studio.steps import (
    BROKEN_CSV, call, csv_text, finished_job, onnx_endpoint, sign_in, upload_data,
)

PREVIEW_BYTES = 65536
DANGER = "rgb(179, 38, 30)"  # --danger in studio.css


def current_section(page: Page):
    return page.locator("header.top nav a[aria-current=page]")


def browse_into(page: Page, *folders: str) -> None:
    browser = page.get_by_test_id("datastore-browser")
    for folder in folders:
        browser.get_by_role("button", name=f"{folder}/", exact=True).click()
        expect(browser.locator("[aria-current=location]")).to_have_text(folder)


def test_a_folder_uploaded_on_the_data_page_is_scored_from_the_studio(page: Page, product, tmp_path):
    onnx_endpoint(product, "studio-data", settings={"mini_batch_size": 2})
    folder = tmp_path / "readings"
    (folder / "march").mkdir(parents=True)
    (folder / "__pycache__").mkdir()
    texts = {"part-0.csv": csv_text(7, 0), "march/part-1.csv": csv_text(7, 1), "march/día-2.csv": csv_text(7, 2)}
    for path, text in texts.items():
        (folder / path).write_text(text)
    (folder / "__pycache__" / "left-out.pyc").write_bytes(b"\0")
    sign_in(page, product)

    # Upload the folder: zipped in the browser, one uri_folder version holding its files by their paths.
    page.get_by_role("link", name="Data", exact=True).click()
    expect(current_section(page)).to_have_text("Data")
    page.get_by_label("Name", exact=True).fill("studio-folder")
    page.get_by_label("Or a folder").set_input_files(str(folder))
    page.get_by_role("button", name="Create", exact=True).click()
    created = page.locator(".notice").filter(has_text="Created data asset studio-folder version 1 (uri_folder, 3 files)")
    expect(created).to_be_visible()
    asset = product.get("api/data/studio-folder/versions/1").json()
    assert asset["type"] == "uri_folder"
    prefix = asset["path"].split("/paths/", 1)[1]
    top = product.get("api/datastores/workspaceblobstore/paths", params={"prefix": prefix}).json()
    march = product.get("api/datastores/workspaceblobstore/paths", params={"prefix": f"{prefix}march/"}).json()
    stored = {f["path"][len(prefix):]: f["size"] for f in top["files"] + march["files"]}
    assert stored == {path: len(text.encode()) for path, text in texts.items()}  # __pycache__ left out
    assert [f["path"] for f in top["folders"]] == [f"{prefix}march/"]

    # Its version taken to a job: the endpoint picked, the job form opens with it as the input; the notice is gone.
    page.get_by_role("button", name="Use studio-folder version 1 as job input").click()
    picked = page.get_by_test_id("picked-input")
    expect(picked).to_contain_text("azureml:studio-folder:1")
    picked.get_by_label("on endpoint").select_option("studio-data")
    picked.get_by_role("link", name="Create job").click()
    expect(page.get_by_label("Data asset", exact=True)).to_have_value("studio-folder:1")
    expect(created).to_have_count(0)
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#job-status")).to_have_text("Completed", timeout=120_000)
    expect(page.locator("#count-files")).to_have_text("3")
    expect(page.locator("#count-rows")).to_have_text("21")
    expect(page.locator("#started-by")).to_have_text("studio")
    expect(current_section(page)).to_have_text("Endpoints")

    # A datastore folder browsed to on the Data page and picked: the job form gets its path.
    page.get_by_role("link", name="Data", exact=True).click()
    hex_folder = prefix.split("/")[2]
    browse_into(page, "data", "studio-folder", hex_folder, "march")
    page.get_by_role("button", name=f"Use as job input: {prefix}march/", exact=True).click()
    expect(picked).to_contain_text(f"azureml://datastores/workspaceblobstore/paths/{prefix}march/")
    picked.get_by_label("on endpoint").select_option("studio-data")
    picked.get_by_role("link", name="Create job").click()
    expect(page.get_by_label("From a datastore path")).to_be_checked()
    expect(page.get_by_label("Path", exact=True)).to_have_value(f"{prefix}march/")

    # The job form's own browser: a file picked replaces the path, and the job scores that one file.
    page.get_by_role("button", name="Browse...").click()
    browse_into(page, "data", "studio-folder", hex_folder)
    page.get_by_role("button", name=f"Use: {prefix}part-0.csv", exact=True).click()
    expect(page.get_by_test_id("datastore-browser")).to_be_hidden()
    expect(page.get_by_label("Path", exact=True)).to_have_value(f"{prefix}part-0.csv")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#job-status")).to_have_text("Completed", timeout=120_000)
    expect(page.locator("#count-files")).to_have_text("1")
    job = product.get(f"api/jobs/{page.locator('h1 .mono').inner_text()}").json()
    assert job["input"]["uri"] == f"azureml://datastores/workspaceblobstore/paths/{prefix}part-0.csv"


def test_a_folder_zipped_in_the_browser_is_a_zip_python_reads_with_its_crcs(page: Page, product):
    sign_in(page, product)
    names = ["a.csv", "sub/b.txt", "sub/déjà vu.txt", "empty.txt"]
    contents = ["f0\n1\n", "x" * 70_000, "ünïcödé\n", ""]
    archive = page.evaluate("""async ([names, contents]) => {
      const { zipFiles } = await import("./js/zip.js");
      const entries = names.map((path, i) => ({ path, file: new File([contents[i]], path.split("/").pop(),
        { lastModified: Date.UTC(2024, 1, 29, 13, 45, 30) }) }));
      return [...new Uint8Array(await (await zipFiles(entries)).arrayBuffer())];
    }""", [names, contents])
    with zipfile.ZipFile(io.BytesIO(bytes(archive))) as unpacked:
        assert unpacked.testzip() is None  # every entry's CRC-32 matches its bytes
        assert unpacked.namelist() == names
        assert [unpacked.read(name).decode() for name in names] == contents
        assert all(info.compress_type == zipfile.ZIP_STORED for info in unpacked.infolist())


def test_csv_previews_lanes_and_distributions_are_read_and_counted_as_written(page: Page, product):
    sign_in(page, product)
    whole, cut = 'a,b\n"x, ""y""",2\n"two\nlines",3\n', 'a,b\n1,2\n3,"unfinish'
    found = page.evaluate("""async ([whole, cut]) => {
      const { distribution, packLanes, parseCsv } = await import("./js/job_pictures.js");
      const counts = (svg) => [...svg.querySelectorAll("[data-testid=dist-bar]")].map((bar) =>
        [bar.dataset.value ?? `${bar.dataset.from}..${bar.dataset.to}`, Number(bar.dataset.count)]);
      const numbers = Array.from({ length: 50 }, (_, i) => String(i / 10));
      return {
        whole: parseCsv(whole),
        cut: parseCsv(cut),
        lanes: packLanes([[0, 5], [1, 3], [3, 4], [4, 9], [5, 6]].map(([start, end]) => ({ start, end }))),
        classes: counts(distribution(["cat", "dog", "cat", "", "cat"])),
        histogram: counts(distribution(numbers)),
      };
    }""", [whole, cut])
    assert found["whole"] == {"records": [["a", "b"], ["x, \"y\"", "2"], ["two\nlines", "3"]], "cut": False}
    assert found["cut"] == {"records": [["a", "b"], ["1", "2"], ["3", "unfinish"]], "cut": True}
    assert found["lanes"] == [0, 1, 1, 1, 0]  # a lane is free again from the instant its last interval ends
    assert found["classes"] == [["cat", 3], ["dog", 1]]  # empty values are not a class
    assert len(found["histogram"]) == 10 and sum(count for _, count in found["histogram"]) == 50
    assert found["histogram"][0][0].startswith("0..") and found["histogram"][-1][1] == 5


def test_the_environments_page_shows_a_failed_builds_log(page: Page, product):
    missing = "studio-no-such-package-4a7c"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    conda = {"dependencies": [f"python={python}", {"pip": [missing]}]}
    assert call(product, "POST", "api/environments/studio-unbuildable/versions", json={
        "conda_file": conda, "description": "needs a package no index has"}).status_code == 201
    onnx_endpoint(product, "studio-envpage", model="studio-envpage")
    deployment = "api/batchEndpoints/studio-envpage/deployments/main"
    model = product.get(deployment).json()["model"]
    assert call(product, "PUT", deployment, json={"model": model,
                                                  "environment": "azureml:studio-unbuildable:1"}).status_code == 200
    wait_for(lambda: product.get(deployment).json()["provisioning_state"] == "Failed", timeout=120,
             what="the environment's build to fail")
    log = product.get(f"{deployment}/environment").json()["log"]
    sign_in(page, product)

    page.get_by_role("link", name="Environments").click()
    expect(current_section(page)).to_have_text("Environments")
    page.get_by_role("button", name="studio-unbuildable").click()
    expect(page.locator("#environment-versions")).to_contain_text(missing)
    row = page.locator("tr", has=page.get_by_role("cell", name="studio-envpage", exact=True))
    expect(row).to_contain_text("azureml:studio-unbuildable:1")
    expect(row.locator(".state")).to_have_text("Failed")
    failed = page.locator('[data-testid=build-log][data-deployment="studio-envpage/main"]')
    expect(failed).to_have_attribute("open", "")  # a failed build's log is shown without a click
    expect(failed.locator("pre.log")).to_have_text(log)
    expect(failed.locator("pre.log")).to_contain_text("No solution found")
    expect(failed.locator("pre.log")).to_contain_text(missing)


def max_overlap(batches: list[dict]) -> int:
    """The most mini-batches running at one time, from the records (an ending frees its slot before a start
    at the same instant takes it)."""
    events = sorted([(b["started_at"], 1) for b in batches] + [(b["ended_at"], -1) for b in batches],
                    key=lambda event: (event[0], event[1]))
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def test_a_job_page_draws_its_mini_batches_rows_and_predictions_from_its_records(page: Page, product):
    onnx_endpoint(product, "studio-pictures", settings={
        "mini_batch_size": 1, "max_concurrency_per_instance": 2, "error_threshold": -1,
        "retry_settings": {"max_retries": 1}})
    files = {"part-0.csv": csv_text(3000, 0), "part-1.csv": csv_text(20, 1), "part-2.csv": BROKEN_CSV,
             "part-3.csv": csv_text(20, 3), "part-4.csv": csv_text(20, 4)}
    upload_data(product, "studio-mixed", zip_entries(files), "mixed.zip", "uri_folder")
    job = finished_job(product, "studio-pictures", "studio-mixed")
    assert job["status"] == "Completed" and job["counts"]["mini_batches_failed"] == 1, job
    batches = product.get(f"api/jobs/{job['name']}/mini-batches").json()["value"]
    sign_in(page, product)
    page.goto(product.url(f"api/studio/#/jobs/{job['name']}"))

    # The timeline: one bar per mini-batch, the failed ones marked, the retried ones labelled, packed in lanes.
    bars = page.get_by_test_id("timeline-bar")
    expect(bars).to_have_count(len(batches))
    assert sorted(int(i) for i in bars.evaluate_all("bars => bars.map(b => b.dataset.index)")) == \
        sorted(b["index"] for b in batches)
    failed = [b for b in batches if b["status"] == "failed"]
    expect(page.locator("[data-testid=timeline-bar][data-status=failed]")).to_have_count(len(failed))
    expect(page.locator("[data-testid=timeline-bar][data-status=failed]").first).to_have_css("fill", DANGER)
    retried = [b for b in batches if b["attempts"] > 1]
    assert retried, batches  # the broken file's mini-batch was tried again
    expect(page.get_by_test_id("retry-marker")).to_have_count(len(retried))
    expect(page.get_by_test_id("retry-marker").first).to_have_text(f"×{retried[0]['attempts']}")
    lanes = bars.evaluate_all("bars => bars.map(b => Number(b.dataset.lane))")
    assert max(lanes) + 1 == max_overlap(batches)
    expect(page.get_by_test_id("timeline-legend")).to_contain_text("Failed")

    # Rows per second: every mini-batch's rows counted once.
    rows = page.get_by_test_id("rate-bar").evaluate_all("bars => bars.map(b => Number(b.dataset.rows))")
    assert sum(rows) == sum(b["rows"] for b in batches) == job["counts"]["rows_scored"]

    # The predictions preview: the complete rows of the file's first 64 KB, as the API serves them.
    first = product.get(f"api/jobs/{job['name']}/outputs/predictions.csv",
                        headers={"Range": f"bytes=0-{PREVIEW_BYTES - 1}"})
    assert first.status_code == 206 and int(first.headers["Content-Range"].split("/")[1]) > PREVIEW_BYTES
    header, *complete = list(csv.reader(io.StringIO(first.text[:first.text.rindex("\n") + 1])))
    preview = page.get_by_test_id("predictions-preview")
    expect(preview).to_contain_text(f"of the first {len(complete):,} rows of predictions.csv")
    expect(preview.get_by_role("heading")).to_have_text(f"Distribution of prediction in the first {len(complete):,} rows")
    expect(preview.locator("thead th")).to_have_text(header)
    expect(preview.locator("tbody tr")).to_have_count(10)
    expect(preview.locator("tbody tr").first.locator("td")).to_have_text(complete[0])
    classes = Counter(row[header.index("prediction")] for row in complete)
    shown = page.get_by_test_id("dist-bar").evaluate_all(
        "bars => bars.map(b => [b.dataset.value, Number(b.dataset.count)])")
    assert dict(shown) == dict(classes) and len(classes) > 1


def test_a_failed_jobs_progress_bar_says_failed_in_the_job_page_and_the_jobs_list(page: Page, product):
    onnx_endpoint(product, "studio-failing", settings={"retry_settings": {"max_retries": 0}}, model="studio-failing")
    upload_data(product, "studio-broken-file", BROKEN_CSV.encode(), "broken.csv", "uri_file")
    job = finished_job(product, "studio-failing", "studio-broken-file")
    assert job["status"] == "Failed", job
    sign_in(page, product)

    page.goto(product.url(f"api/studio/#/jobs/{job['name']}"))
    bar = page.locator("#job-progress")
    expect(bar).to_have_text("Failed")
    expect(bar).to_have_class("bar-progress failed")
    expect(bar.locator(".fill")).to_have_css("background-color", DANGER)
    expect(page.locator("#started-by")).to_have_text("API (scoring URI)")

    page.get_by_role("link", name="studio-failing").click()
    row = page.locator("tr", has_text=job["name"])
    expect(row.get_by_role("progressbar")).to_have_text("Failed")
    expect(row.get_by_role("progressbar").locator(".fill")).to_have_css("background-color", DANGER)
    expect(row).not_to_contain_text("invoke")


def test_the_menu_notices_empty_states_wizard_and_a_deleted_endpoints_job(page: Page, product):
    onnx_endpoint(product, "studio-edges", model="studio-edges")
    upload_data(product, "studio-one-file", csv_text(5, 9).encode(), "one.csv", "uri_file")
    sign_in(page, product)

    # The top menu marks the section of every page, the wizard and the job form included.
    for route, section in [("#/create", "Endpoints"), ("#/models", "Models"), ("#/data", "Data"),
                           ("#/environments", "Environments"), ("#/endpoints/studio-edges/jobs/new", "Endpoints")]:
        page.goto(product.url(f"api/studio/{route}"))
        expect(current_section(page)).to_have_text(section)

    # An empty state names a command as code, without backticks.
    page.goto(product.url("api/studio/#/endpoints/studio-edges/schedules"))
    expect(page.locator(".empty code").first).to_have_text("mlbatch schedule create --file schedule.yml")
    expect(page.locator("main")).not_to_contain_text("`")

    # A notice goes when the page it is about is left.
    page.get_by_role("link", name="Details").click()
    page.get_by_role("button", name="Update default deployment").click()
    notice = page.locator(".notice").filter(has_text="main is now the default deployment.")
    expect(notice).to_be_visible()
    page.get_by_role("link", name="Models").click()
    expect(notice).to_have_count(0)

    # + Add deployment does not leave the Model step with no model chosen.
    page.goto(product.url("api/studio/#/endpoints/studio-edges"))
    page.get_by_role("link", name="+ Add deployment").click()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_label("Registered model")).to_be_visible()
    expect(page.locator('.field:has([data-field="deployment.model"]) .field-error')).to_contain_text(
        "Choose a registered model")
    expect(page.get_by_label("Deployment name")).to_be_hidden()

    # A job whose endpoint was deleted: its page says so, with a way back, and no error banner.
    job = finished_job(product, "studio-edges", "studio-one-file")
    assert call(product, "DELETE", "api/batchEndpoints/studio-edges").status_code in (200, 202, 204)
    page.goto(product.url(f"api/studio/#/jobs/{job['name']}"))
    expect(page.locator("#job-status")).to_have_text(job["status"])
    expect(page.get_by_test_id("endpoint-gone")).to_contain_text("The endpoint studio-edges was deleted")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator(".crumbs")).to_contain_text("studio-edges (deleted)")
    page.get_by_role("link", name="Back to endpoints").click()
    expect(page.get_by_role("heading", name="Batch endpoints")).to_be_visible()
    page.goto(product.url("api/studio/#/endpoints/studio-edges"))
    expect(page.get_by_test_id("endpoint-gone")).to_contain_text("There is no endpoint studio-edges")
    expect(page.get_by_role("alert")).to_have_count(0)


@pytest.fixture(autouse=True)
def no_page_errors(page: Page):
    """Every test here also fails on an uncaught error in the studio's code."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield
    assert not errors, errors
