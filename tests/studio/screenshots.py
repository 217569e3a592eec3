"""The pictures in docs/studio.md: `.venv/bin/python -m tests.studio.screenshots` starts Azurite and the app on
free ports, makes an endpoint, a folder data asset, a job with a few failing files and a deployment whose
environment cannot build, and saves the Data, Environments and job pages as PNGs in docs/images/."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from devhost.azurite import Azurite, free_port
from tests.harness import ROOT, Runtime, wait_for
from tests.model_builders import zip_entries
from tests.studio.conftest import CHROMIUM_FLAGS, chromium_path
from tests.studio.steps import BROKEN_CSV, call, csv_text, finished_job, onnx_endpoint, sign_in, upload_data

IMAGES = ROOT / "docs" / "images"


def seed(product) -> str:
    """The resources the pictures show; returns the job's name."""
    onnx_endpoint(product, "heart-scoring", model="heart-classifier", settings={
        "mini_batch_size": 1, "max_concurrency_per_instance": 3, "error_threshold": -1,
        "retry_settings": {"max_retries": 1}})
    files = {f"2024-03/part-{n:02d}.csv": csv_text(400 + 150 * n, n) for n in range(10)}
    files["2024-03/part-04.csv"] = files["2024-03/part-07.csv"] = BROKEN_CSV
    upload_data(product, "heart-readings", zip_entries(files), "readings.zip", "uri_folder")
    conda = {"dependencies": [f"python={sys.version_info.major}.{sys.version_info.minor}",
                              {"pip": ["scikit-learn==1.5.2", "no-such-package-anywhere"]}]}
    assert call(product, "POST", "api/environments/sklearn-pinned/versions", json={
        "conda_file": conda, "description": "scikit-learn 1.5.2 and a package no index has"}).status_code == 201
    deployment = "api/batchEndpoints/heart-scoring/deployments/pinned"
    model = product.get("api/batchEndpoints/heart-scoring/deployments/main").json()["model"]
    assert call(product, "PUT", deployment, json={"model": model, "environment": "azureml:sklearn-pinned:1"}
                ).status_code == 201
    wait_for(lambda: product.get(deployment).json()["provisioning_state"] == "Failed", timeout=180,
             what="the pinned environment's build to fail")
    return finished_job(product, "heart-scoring", "heart-readings")["name"]


def shoot(product, job: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        sign_in(page, product)

        page.goto(product.url("api/studio/#/data"))
        page.get_by_role("button", name="heart-readings", exact=True).click()
        browser_panel = page.get_by_test_id("datastore-browser")
        for folder in ["data", "heart-readings"]:
            browser_panel.get_by_role("button", name=f"{folder}/", exact=True).click()
            expect(browser_panel.locator("[aria-current=location]")).to_have_text(folder)
        browser_panel.locator("button.folder").first.click()
        browser_panel.get_by_role("button", name="2024-03/", exact=True).click()
        page.get_by_role("button", name="Use heart-readings version 1 as job input").click()
        # The whole page in the window, so the picked input's bar sits at the bottom, where it sticks.
        page.set_viewport_size({"width": 1280, "height": page.evaluate("document.documentElement.scrollHeight")})
        page.screenshot(path=str(IMAGES / "studio-data.png"))
        page.set_viewport_size({"width": 1280, "height": 900})

        page.goto(product.url("api/studio/#/environments"))
        expect(page.locator("[data-testid=build-log][open] pre.log")).to_contain_text("no-such-package-anywhere")
        page.screenshot(path=str(IMAGES / "studio-environments.png"), full_page=True)

        page.goto(product.url(f"api/studio/#/jobs/{job}"))
        expect(page.get_by_test_id("predictions-preview")).to_be_visible()
        top = page.locator("h2", has_text="Outputs and logs").bounding_box()["y"]
        page.screenshot(path=str(IMAGES / "studio-job.png"), full_page=True,
                        clip={"x": 0, "y": 0, "width": 1280, "height": top})
        browser.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as temp:
        azurite = Azurite((free_port(), free_port(), free_port()), log_file=Path(temp) / "azurite.log").start()
        product = Runtime(ROOT, azurite.connection_string, Path(temp),
                          env={"PYTHON_SCRIPT_FILE_NAME": "batch_app.py", "BATCH_ENVIRONMENTS_DIR": temp})
        try:
            product.start()
            shoot(product, seed(product))
        finally:
            product.stop()
            azurite.stop()
    for picture in sorted(IMAGES.glob("studio-*.png")):
        print(f"{picture.relative_to(ROOT)}: {picture.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
