"""Uploads are unpacked safely and models are described by their files."""
import io
import stat
import zipfile

import pytest

from tests.model_builders import mlflow_model_folder, onnx_model_bytes, zip_folder
from registry.errors import ValidationFailed
from registry.model_files import describe_model_folder, unpack_model_upload
from registry.uploads import unpack_zip


def make_zip(entries: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt"])
def test_a_zip_entry_escaping_the_folder_is_refused_before_anything_is_written(tmp_path, name):
    with pytest.raises(ValidationFailed) as raised:
        unpack_zip(make_zip({"ok.txt": b"1", name: b"x"}), tmp_path / "out")
    assert raised.value.target == "file" and "outside" in raised.value.message
    assert not (tmp_path / "out").exists()


def test_symbolic_links_in_a_zip_are_refused(tmp_path):
    with pytest.raises(ValidationFailed, match="symbolic link"):
        unpack_zip(make_zip({"ok.txt": b"1"}, links=("link",)), tmp_path / "out")


def test_a_broken_or_empty_zip_is_a_validation_error(tmp_path):
    with pytest.raises(ValidationFailed, match="not a valid"):
        unpack_zip(b"PK\x03\x04 broken", tmp_path / "a")
    with pytest.raises(ValidationFailed, match="no files"):
        unpack_zip(make_zip({}), tmp_path / "b")


def test_an_mlflow_folder_wrapped_in_one_directory_is_lifted_to_the_top(tmp_path):
    folder = mlflow_model_folder(tmp_path / "src" / "my_model")
    wrapped = zip_folder(tmp_path / "src")
    out = unpack_model_upload(wrapped, "model.zip", tmp_path / "out")
    assert (out / "MLmodel").is_file() and not (out / "my_model").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in folder.iterdir())


def test_an_mlflow_model_is_described_by_its_flavors_and_signature(tmp_path):
    description = describe_model_folder(mlflow_model_folder(tmp_path / "m"))
    assert description.format == "mlflow" and description.scorable_without_code
    assert {"python_function", "sklearn"} <= set(description.flavors)
    assert [c["name"] for c in description.signature["inputs"]] == ["f0", "f1", "f2", "f3"]
    assert description.model_uuid and description.mlflow_version


def test_one_onnx_file_is_described_by_its_graph(tmp_path):
    out = unpack_model_upload(onnx_model_bytes(), "C:\\models\\clf.onnx", tmp_path / "out")
    description = describe_model_folder(out)
    assert (description.format, description.onnx_file) == ("onnx", "clf.onnx")
    assert description.onnx_inputs[0].type == "tensor(float)" and description.onnx_inputs[0].shape[1] == 4
    assert [o.name for o in description.onnx_outputs] == ["label", "probabilities"]


def test_a_broken_onnx_file_and_other_single_files_are_refused(tmp_path):
    with pytest.raises(ValidationFailed, match="not a loadable ONNX"):
        describe_model_folder(unpack_model_upload(b"not a graph", "x.onnx", tmp_path / "a"))
    with pytest.raises(ValidationFailed, match=".zip"):
        unpack_model_upload(b"pickle bytes", "model.pkl", tmp_path / "b")


def test_a_folder_without_mlmodel_or_one_onnx_file_is_custom(tmp_path):
    out = unpack_model_upload(make_zip({"model.pkl": b"x", "notes.txt": b"y"}), "m.zip", tmp_path / "out")
    description = describe_model_folder(out)
    assert description.format == "custom" and not description.scorable_without_code


def test_an_mlmodel_without_flavors_is_refused(tmp_path):
    out = unpack_model_upload(make_zip({"MLmodel": b"artifact_path: x\n"}), "m.zip", tmp_path / "out")
    with pytest.raises(ValidationFailed, match="flavors"):
        describe_model_folder(out)


def test_what_was_registered_is_kept_by_its_own_name(tmp_path):
    from registry.model_files import unpack_registered

    folder_zip = make_zip({"MLmodel": b"flavors: {python_function: {}}\n", "model.pkl": b"x"})
    assert unpack_registered(folder_zip, "heart-model.zip", tmp_path / "a").model_dump() == {
        "name": "heart-model", "single_file": False}
    wrapped = make_zip({"model/MLmodel": b"flavors: {python_function: {}}\n", "model/model.pkl": b"x"})
    root = unpack_registered(wrapped, "upload.zip", tmp_path / "b")
    assert root.model_dump() == {"name": "model", "single_file": False} and (tmp_path / "b" / "MLmodel").exists()
    one_file = make_zip({"sample_m1.pkl": b"x"})
    assert unpack_registered(one_file, "sample_m1.zip", tmp_path / "c").model_dump() == {
        "name": "sample_m1.pkl", "single_file": True}
    assert unpack_registered(b"graph", "net.onnx", tmp_path / "d").model_dump() == {
        "name": "net.onnx", "single_file": True}
