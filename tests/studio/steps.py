"""Steps the studio's browser tests (and the screenshot script) share: signing in, finding a field's message,
a table row, and setting up through the API an ONNX model's endpoint, data assets and finished jobs."""
from __future__ import annotations


from playwright.sync_api import Page, expect

from tests.harness import wait_for
from tests.model_builders import FEATURES, onnx_model_bytes, training_data

BROKEN_CSV = "f0,f1,f2,f3\nnot,a,number,here\n"  # a file no model can score
TERMINAL = ("Completed", "Failed", "Canceled")


def sign_in(page: Page, product) -> None:
    page.goto(product.url("api/studio/"))
    page.get_by_label("Function key").fill(product.function_key)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Batch endpoints")).to_be_visible()


def field_error(page: Page, field: str):
    return page.locator(f'.field:has([data-field="{field}"]) .field-error')


def deployment_row(page: Page, name: str):
    return page.locator("tr").filter(has=page.locator("td:first-child", has_text=name))


def call(product, method: str, path: str, **kwargs):
    return product._call(method, path, True, **kwargs)


def onnx_endpoint(product, endpoint: str, settings: dict | None = None, model: str = "studio-onnx") -> None:
    """An endpoint with one deployment, `main`, of an ONNX classifier: it scores in the app's own environment, so
    nothing is built first."""
    registered = product.post(f"api/models/{model}/versions", data=onnx_model_bytes(), params={"filename": "model.onnx"})
    assert registered.status_code == 201, registered.text
    assert call(product, "PUT", f"api/batchEndpoints/{endpoint}", json={}).status_code == 201
    deployment = call(product, "PUT", f"api/batchEndpoints/{endpoint}/deployments/main",
                      json={"model": registered.json()["id"], "settings": settings or {}})
    assert deployment.status_code == 201, deployment.text


def csv_text(rows: int, seed: int) -> str:
    return training_data(rows, seed=seed)[0][FEATURES].to_csv(index=False)


def upload_data(product, name: str, data: bytes, filename: str, kind: str) -> None:
    answer = product.post(f"api/data/{name}/versions", data=data, params={"filename": filename, "type": kind})
    assert answer.status_code == 201, answer.text


def finished_job(product, endpoint: str, data_asset: str) -> dict:
    answer = product.post(f"api/batchEndpoints/{endpoint}/jobs", json={"input": f"azureml:{data_asset}@latest"})
    assert answer.status_code == 202, answer.text
    name = answer.json()["name"]
    return wait_for(lambda: (job := product.get(f"api/jobs/{name}").json())["status"] in TERMINAL and job,
                    timeout=180, what=f"job {name} to end")
