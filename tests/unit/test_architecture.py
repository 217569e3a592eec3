"""The packages' boundaries hold: imports flow one way (adapters -> jobs -> registry -> scoring), the core
never imports Azure Functions, nothing of the product imports the local runtime, and Blob and Table clients
are made only in the storage layer."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("function_app", "orchestrations", "jobs", "registry", "scoring")
# what each package may import of the product's own packages
MAY_IMPORT = {
    "scoring": set(),
    "registry": {"scoring.formats"},
    "jobs": {"registry", "scoring"},
    "orchestrations": {"jobs", "registry"},
    "function_app": {"jobs", "registry"},
}
STORAGE_LAYER = {"registry/storage.py", "jobs/job_storage.py"}
CLIENT_MAKERS = re.compile(r"\b(BlobServiceClient|TableServiceClient|QueueServiceClient|ContainerClient\(|BlobClient\("
                           r"|get_blob_client|get_container_client|get_table_client|from_connection_string)\b")


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def modules(package: str):
    return sorted((ROOT / package).rglob("*.py"))


def allowed(imported: str, package: str) -> bool:
    top = imported.split(".")[0]
    if top not in PRODUCT + ("devhost", "mlbatch", "tests", "batch_app"):
        return True  # the standard library and third-party packages
    if top == package:
        return True
    return any(imported == rule or imported.startswith(rule + ".") for rule in MAY_IMPORT[package])


def test_imports_flow_one_way_between_the_packages():
    wrong = [(str(path.relative_to(ROOT)), imported) for package in PRODUCT for path in modules(package)
             for imported in imports_of(path) if not allowed(imported, package)]
    assert wrong == []


def test_the_core_packages_never_import_azure_functions():
    core = [path for package in ("jobs", "registry", "scoring") for path in modules(package)]
    assert len(core) > 30
    wrong = [(str(path.relative_to(ROOT)), imported) for path in core for imported in imports_of(path)
             if imported.split(".")[0] == "azure" and imported.split(".")[1] in ("functions", "durable_functions")]
    assert wrong == []


def test_blob_and_table_clients_are_made_only_in_the_storage_layer():
    makers = {str(path.relative_to(ROOT)) for package in PRODUCT for path in modules(package)
              if CLIENT_MAKERS.search(path.read_text())}
    assert makers == STORAGE_LAYER


def test_the_scoring_contracts_need_nothing_but_the_standard_library():
    """The scoring process may run in a model's own environment, which has none of the app's packages."""
    assert {name.split(".")[0] for name in imports_of(ROOT / "scoring" / "contracts.py")} <= {
        "__future__", "json", "dataclasses", "typing"}
