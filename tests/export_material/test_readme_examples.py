"""The Python examples of export/README.md run against the SavedModel of stand_in.build_export."""
import os
import re
import shutil

import pytest

from tests.export_material.conftest import EXPORT


def _python_blocks():
    with open(f"{EXPORT}/README.md", encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_readme_has_python_examples():
    blocks = _python_blocks()
    assert len(blocks) >= 3
    assert all("EXPORT_DIR/1" in block for block in blocks)


@pytest.mark.parametrize("index", range(3))
def test_readme_python_example_runs(index, version_dir, tmp_path, capsys):
    # A copy of the session's stand-in export: the fine-tuning example saves a version 2.
    export_dir = tmp_path / "export"
    shutil.copytree(os.path.dirname(version_dir), export_dir)
    assert sorted(os.listdir(export_dir)) == ["1"]
    code = _python_blocks()[index].replace("EXPORT_DIR", str(export_dir))
    exec(compile(code, f"export/README.md python block {index + 1}", "exec"), {})
    printed = capsys.readouterr().out
    if index == 0:
        assert "['beam_search', 'generate_ids', 'score', 'serving_default']" in printed
    if index == 2:  # fine-tuning: a finite loss, and the next version saved and loadable
        import math

        import tensorflow as tf

        assert math.isfinite(float(printed.strip().splitlines()[-1]))
        again = tf.saved_model.load(str(export_dir / "2"))
        assert sorted(again.signatures) == ["beam_search", "generate_ids", "score", "serving_default"]
