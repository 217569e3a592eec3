"""The studio's static files: served from their folder with their media type, nothing outside it."""
import re
from pathlib import Path

import pytest

from registry.errors import NotFound
from function_app.static_files import resolve_static

STUDIO = Path(__file__).resolve().parents[2] / "studio"


def test_the_empty_path_is_the_index_page():
    found = resolve_static(STUDIO, "")
    assert found.media_type.startswith("text/html") and b'<script type="module"' in found.body


def test_scripts_and_styles_have_their_media_types():
    assert resolve_static(STUDIO, "js/app.js").media_type.startswith("text/javascript")
    assert resolve_static(STUDIO, "studio.css").media_type.startswith("text/css")


@pytest.mark.parametrize("path", ["../batch_app.py", "js/../../host.json", ".hidden", "missing.js", "js",
                                  "index.py"])
def test_nothing_outside_the_folder_or_unknown_is_served(path):
    with pytest.raises(NotFound):
        resolve_static(STUDIO, path)


def test_the_pages_load_nothing_from_outside():
    text = "\n".join(p.read_text() for p in STUDIO.rglob("*") if p.suffix in (".html", ".js", ".css"))
    outside = re.findall(r"""(?:src=|href=|from\s|import\(|url\(|fetch\()\s*["']?(?:https?:)?//""", text)
    assert outside == []
