"""The studio in a real browser (headless Chromium) on the local runtime: the whole batch-endpoint flow by
clicking, and every form showing the API's message next to the field it is about."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from tests.harness import wait_for
from tests.model_builders import FEATURES, mlflow_model_folder, training_data, zip_folder
from tests.studio.steps import BROKEN_CSV, deployment_row, field_error, sign_in

SCORING_SCRIPT = '''
import glob
import os
from pathlib import Path

import mlflow.pyfunc
import pandas as pd

model = None


def init():
    global model
    model = mlflow.pyfunc.load_model(glob.glob(os.environ["AZUREML_MODEL_DIR"] + "/*/")[0])


def run(mini_batch):
    results = []
    for path in mini_batch:
        frame = pd.read_csv(path)
        results.append(pd.DataFrame({"file": Path(path).name, "label": model.predict(frame)}))
    return pd.concat(results)
'''
INPUT_FILES, ROWS_PER_FILE = 3, 7


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A zipped MLflow model, a scoring script and a data asset's CSV files, all built here."""
    folder = tmp_path_factory.mktemp("studio")
    model_zip = folder / "classifier.zip"
    model_zip.write_bytes(zip_folder(mlflow_model_folder(folder / "mlflow")))
    script = folder / "score.py"
    script.write_text(SCORING_SCRIPT)
    frame, _ = training_data(INPUT_FILES * ROWS_PER_FILE, seed=3)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number in range(INPUT_FILES):
            part = frame.iloc[number * ROWS_PER_FILE:(number + 1) * ROWS_PER_FILE]
            archive.writestr(f"part-{number}.csv", part[FEATURES].to_csv(index=False))
    data_zip = folder / "inputs.zip"
    data_zip.write_bytes(buffer.getvalue())
    return {"model": model_zip, "script": script, "data": data_zip}


@pytest.fixture(scope="module")
def data_asset(product, files) -> str:
    answer = product.post("api/data/studio-inputs/versions", data=files["data"].read_bytes(),
                          params={"filename": "inputs.zip", "type": "uri_folder"})
    assert answer.status_code == 201, answer.text
    return "studio-inputs"


def register_model(page: Page, name: str, path: Path) -> None:
    page.get_by_role("link", name="Models").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Model file").set_input_files(str(path))
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("status").filter(has_text=f"Registered {name} version 1")).to_be_visible()


def test_the_whole_flow_by_clicking(page: Page, product, files, data_asset, tmp_path):
    sign_in(page, product)

    # Models: register by upload, then Deploy to batch endpoint opens the wizard with the model chosen.
    register_model(page, "studio-classifier", files["model"])
    expect(page.locator("table")).to_contain_text("studio-classifier")
    page.locator("tr", has_text="studio-classifier").get_by_role("link", name="Deploy to batch endpoint").click()

    # The wizard: a new endpoint, the model, the deployment settings with Azure ML's defaults, review, create.
    page.get_by_label("Endpoint name").fill("studio-flow")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_label("Registered model")).to_have_value("studio-classifier")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_label("Mini-batch size")).to_have_value("10")
    expect(page.get_by_label("Max retries")).to_have_value("3")
    expect(page.get_by_label("Timeout (seconds)")).to_have_value("30")
    expect(page.get_by_label("Error threshold")).to_have_value("-1")
    expect(page.get_by_label("Output file name")).to_have_value("predictions.csv")
    page.get_by_label("Deployment name").fill("blue")
    page.get_by_label("Mini-batch size").fill("2")
    page.get_by_role("button", name="Next").click()
    review = page.locator("dl.review")
    expect(review).to_contain_text("studio-flow (new)")
    expect(review).to_contain_text("azureml:studio-classifier:1")
    expect(review).to_contain_text("mini_batch_size2")
    page.get_by_role("button", name="Create").click()

    # Endpoint details: scoring URI, the first deployment is the default.
    expect(page.get_by_role("heading", name="studio-flow", exact=True)).to_be_visible()
    expect(page.locator("#scoring-uri")).to_have_text(product.url("api/batchEndpoints/studio-flow/jobs"))
    expect(deployment_row(page, "blue")).to_contain_text("default")

    # + Add deployment: a custom scoring script uploaded with the same model; then make it the default.
    page.get_by_role("link", name="+ Add deployment").click()
    expect(page.get_by_label("Registered model")).to_be_visible()
    page.get_by_label("Registered model").select_option("studio-classifier")
    page.get_by_label("Script file or folder (.py or .zip)").set_input_files(str(files["script"]))
    expect(page.get_by_label("Entry script")).to_have_value("score.py")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Deployment name").fill("green")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("dl.review")).to_contain_text("score.py -> score.py")
    page.get_by_role("button", name="Create").click()
    expect(deployment_row(page, "green")).to_contain_text("script score.py")
    expect(deployment_row(page, "green")).not_to_contain_text("default")
    page.get_by_label("Default deployment").select_option("green")
    page.get_by_role("button", name="Update default deployment").click()
    expect(deployment_row(page, "green")).to_contain_text("default")
    expect(deployment_row(page, "blue")).not_to_contain_text("default")
    assert product.get("api/batchEndpoints/studio-flow").json()["defaults"]["deployment_name"] == "green"

    # + Create job: the default deployment preselected, a data asset input, an override, submit.
    page.get_by_role("link", name="+ Create job").click()
    expect(page.get_by_label("Deployment", exact=True)).to_have_value("green")
    page.get_by_label("Data asset", exact=True).select_option(f"{data_asset}@latest")
    page.get_by_text("Override deployment settings").click()
    page.get_by_label("Mini-batch size").fill("1")
    page.get_by_role("button", name="Submit").click()

    # Job details: watch it complete; the override gave one mini-batch per file.
    expect(page.locator("#job-status")).to_have_text("Completed", timeout=120_000)
    expect(page.locator("#count-files")).to_have_text(str(INPUT_FILES))
    expect(page.locator("#count-rows")).to_have_text(str(INPUT_FILES * ROWS_PER_FILE))
    expect(page.locator("#job-log")).to_contain_text("completed")
    job_name = page.locator("h1 .mono").inner_text()
    job = product.get(f"api/jobs/{job_name}").json()
    assert job["deployment"] == "green" and job["counts"]["mini_batches"] == INPUT_FILES

    # Download the predictions through the link.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="predictions.csv").click()
    saved = tmp_path / "predictions.csv"
    download_info.value.save_as(saved)
    predictions = pd.read_csv(saved)
    assert len(predictions) == INPUT_FILES * ROWS_PER_FILE
    assert set(predictions["file"]) == {f"part-{n}.csv" for n in range(INPUT_FILES)}

    # The Jobs tab lists it.
    page.get_by_role("link", name="studio-flow").click()
    page.get_by_role("link", name="Jobs", exact=True).click()
    expect(page.locator("tr", has_text=job_name)).to_contain_text("Completed")

    # Delete a deployment, then the endpoint: the confirm dialog says its deployments go too.
    page.get_by_role("link", name="Details").click()
    page.get_by_role("button", name="Delete deployment blue").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete deployment blue?")
    dialog.get_by_role("button", name="Delete").click()
    expect(deployment_row(page, "blue")).to_have_count(0)
    assert product.get("api/batchEndpoints/studio-flow/deployments/blue").status_code == 404

    page.get_by_role("button", name="Delete endpoint").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Its 1 deployment (green) will be deleted too")
    dialog.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Batch endpoints")).to_be_visible()
    expect(page.get_by_role("link", name="studio-flow")).to_have_count(0)
    assert product.get("api/batchEndpoints/studio-flow").status_code == 404
    assert product.get(f"api/jobs/{job_name}").json()["status"] == "Completed"


def test_a_wrong_function_key_is_refused_at_the_field(page: Page, product):
    page.goto(product.url("api/studio/"))
    page.get_by_label("Function key").fill("not-the-key")
    page.get_by_role("button", name="Continue").click()
    expect(field_error(page, "key")).to_contain_text("not accepted")


def test_the_wizard_shows_the_api_message_next_to_the_field_and_leaves_nothing_behind(page: Page, product, files):
    sign_in(page, product)
    page.get_by_role("link", name="+ Create").click()

    # No step after Model opens while no model is chosen: the wizard stays there and says so.
    page.get_by_label("Endpoint name").fill("9-lives")
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_label("Registered model")).to_be_visible()
    expect(field_error(page, "deployment.model")).to_contain_text("Choose a registered model")
    page.get_by_label("Registered model").select_option(index=1)
    expect(field_error(page, "deployment.model")).to_have_count(0)

    # A bad endpoint name: the API's rule, next to the name, on the endpoint step.
    page.get_by_role("button", name="Deployment", exact=True).click()
    page.get_by_label("Deployment name").fill("blue")
    page.get_by_role("button", name="Review").click()
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_label("Endpoint name")).to_be_visible()
    expect(field_error(page, "endpoint.name")).to_contain_text("Invalid name '9-lives'")

    # A setting out of range: the message sits next to that setting; the new endpoint is not left behind.
    page.get_by_label("Endpoint name").fill("studio-nomodel")
    page.get_by_role("button", name="Deployment", exact=True).click()
    page.get_by_label("Mini-batch size").fill("0")
    page.get_by_role("button", name="Review").click()
    page.get_by_role("button", name="Create").click()
    expect(field_error(page, "deployment.settings.mini_batch_size")).to_contain_text("greater than or equal to 1")
    assert product.get("api/batchEndpoints/studio-nomodel").status_code == 404


def test_model_and_job_forms_show_the_api_message_next_to_the_field(page: Page, product, files, data_asset):
    sign_in(page, product)
    page.get_by_role("link", name="Models").click()
    page.get_by_label("Name", exact=True).fill("no spaces allowed")
    page.get_by_label("Model file").set_input_files(str(files["model"]))
    page.get_by_role("button", name="Register").click()
    expect(field_error(page, "name")).to_contain_text("Invalid name 'no spaces allowed'")
    page.get_by_label("Name", exact=True).fill("studio-forms")
    page.get_by_label("Model file").set_input_files(str(files["script"]))
    page.get_by_role("button", name="Register").click()
    expect(field_error(page, "file")).to_contain_text("Upload a model folder as a .zip")

    model = product.post("api/models/studio-forms/versions", data=files["model"].read_bytes(),
                         params={"filename": "model.zip"}).json()
    assert product._call("PUT", "api/batchEndpoints/studio-forms", True, json={}).status_code == 201
    assert product._call("PUT", "api/batchEndpoints/studio-forms/deployments/main", True,
                         json={"model": model["id"]}).status_code == 201
    page.goto(product.url("api/studio/#/endpoints/studio-forms/jobs/new"))
    page.get_by_label("Data asset", exact=True).select_option(f"{data_asset}@latest")
    page.get_by_text("Override deployment settings").click()
    page.get_by_label("Timeout (seconds)").fill("0")
    page.get_by_role("button", name="Submit").click()
    expect(field_error(page, "settings.retry_settings.timeout")).to_contain_text("greater than or equal to 1")

    page.get_by_label("Timeout (seconds)").fill("")
    page.get_by_label("From a URL").check()
    page.get_by_role("button", name="Submit").click()
    expect(field_error(page, "input")).to_contain_text("input")
    assert product.get("api/batchEndpoints/studio-forms/jobs").json()["value"] == []


SLOW_SCRIPT = '''
import time


def init():
    pass


def run(mini_batch):
    time.sleep(3)
    return [0] * len(mini_batch)
'''


def test_job_details_show_each_failed_mini_batch_and_a_running_job_can_be_canceled(page: Page, product, files,
                                                                                      data_asset, tmp_path):
    model = product.post("api/models/studio-jobs/versions", data=files["model"].read_bytes(),
                         params={"filename": "model.zip"}).json()
    assert product._call("PUT", "api/batchEndpoints/studio-jobs", True, json={}).status_code == 201
    assert product._call("PUT", "api/batchEndpoints/studio-jobs/deployments/main", True,
                         json={"model": model["id"], "settings": {"mini_batch_size": 1,
                                                                   "retry_settings": {"max_retries": 0}}}).status_code == 201
    broken = product.post("api/data/studio-broken/versions", data=BROKEN_CSV.encode(),
                          params={"filename": "broken.csv", "type": "uri_file"})
    assert broken.status_code == 201, broken.text
    sign_in(page, product)

    page.goto(product.url("api/studio/#/endpoints/studio-jobs/jobs/new"))
    page.get_by_label("Data asset", exact=True).select_option("studio-broken@latest")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#job-status")).to_have_text("Failed", timeout=120_000)  # its only file failed
    expect(page.get_by_role("alert")).to_contain_text("NoSucceededMiniBatch")
    failures = page.locator("tr", has_text="broken.csv")
    expect(failures).to_have_count(1)
    expect(failures.locator("pre.error-text")).not_to_be_empty()

    script = tmp_path / "slow.py"
    script.write_text(SLOW_SCRIPT)
    code = product.post("api/codes", data=script.read_bytes(), params={"filename": "slow.py"}).json()
    assert product._call("PUT", "api/batchEndpoints/studio-jobs/deployments/slow", True, json={
        "model": model["id"], "code_configuration": {"code": code["id"], "scoring_script": "slow.py"},
        "settings": {"mini_batch_size": 1}}).status_code == 201
    page.goto(product.url("api/studio/#/endpoints/studio-jobs/jobs/new"))
    page.get_by_label("Deployment", exact=True).select_option("slow")
    page.get_by_label("Data asset", exact=True).select_option(f"{data_asset}@latest")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#job-status")).to_have_text("Running", timeout=60_000)
    page.get_by_role("button", name="Cancel job").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel job").click()
    expect(page.locator("#job-status")).to_have_text("Canceled", timeout=60_000)
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
    expect(page.locator("#job-progress")).to_have_class("bar-progress canceled")
    expect(page.locator("#job-progress")).to_contain_text("Canceled")


def test_the_endpoint_page_shows_its_schedules_and_inbox(page: Page, product, files, data_asset):
    model = product.post("api/models/studio-events/versions", data=files["model"].read_bytes(),
                         params={"filename": "model.zip"}).json()
    assert product._call("PUT", "api/batchEndpoints/studio-events", True,
                         json={"inbox": {"debounce_seconds": 7}}).status_code == 201
    assert product._call("PUT", "api/batchEndpoints/studio-events/deployments/main", True,
                         json={"model": model["id"]}).status_code == 201
    schedule = product._call("PUT", "api/schedules/studio-nightly", True, json={
        "endpoint_name": "studio-events", "trigger": {"type": "cron", "expression": "0 2 * * *"},
        "create_job": {"input": f"azureml:{data_asset}@latest"}})
    assert schedule.status_code in (200, 201), schedule.text
    try:
        sign_in(page, product)
        page.goto(product.url("api/studio/#/endpoints/studio-events/schedules"))
        row = page.locator("tr", has_text="studio-nightly")
        expect(row).to_contain_text("cron 0 2 * * *")
        expect(row).to_contain_text("yes")
        expect(page.locator("dl.facts")).to_contain_text("inbox/studio-events/")
        expect(page.locator("dl.facts")).to_contain_text("7s")
        row.get_by_role("button", name="Disable").click()
        expect(page.locator("tr", has_text="studio-nightly")).to_contain_text("no")
        assert product.get("api/schedules/studio-nightly").json()["is_enabled"] is False
    finally:
        product._call("DELETE", "api/schedules/studio-nightly", True)


def test_a_deployments_environment_state_and_build_log_are_shown(page: Page, product, files):
    conda = {"dependencies": ["python=3.11", {"pip": ["numpy==0.0.1"]}]}
    assert product._call("POST", "api/environments/studio-unmeetable/versions", True,
                         json={"conda_file": conda}).status_code == 201
    model = product.post("api/models/studio-envs/versions", data=files["model"].read_bytes(),
                         params={"filename": "model.zip"}).json()
    code = product.post("api/codes", data=files["script"].read_bytes(), params={"filename": "score.py"}).json()
    assert product._call("PUT", "api/batchEndpoints/studio-envs", True, json={}).status_code == 201
    assert product._call("PUT", "api/batchEndpoints/studio-envs/deployments/pinned", True, json={
        "model": model["id"], "environment": "azureml:studio-unmeetable:1",
        "code_configuration": {"code": code["id"], "scoring_script": "score.py"}}).status_code == 201
    deployment = "api/batchEndpoints/studio-envs/deployments/pinned"
    wait_for(lambda: product.get(deployment).json()["provisioning_state"] == "Failed", timeout=120,
             what="the unmeetable environment's build to fail")
    sign_in(page, product)
    page.goto(product.url("api/studio/#/endpoints/studio-envs"))
    expect(deployment_row(page, "pinned").locator(".state")).to_have_text("Failed")
    page.get_by_role("button", name="Environment of pinned").click()
    expect(page.locator("#build-log")).to_contain_text("No solution found")
    expect(page.locator("#build-log .state")).to_have_text("Failed")
