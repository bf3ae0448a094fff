"""The README's complete example runs as written."""

import re
from pathlib import Path


def test_readme_example_runs(tmp_path, monkeypatch):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "no python example in python/README.md"
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], "python/README.md", "exec"), {})
    assert (tmp_path / "my-index" / "index.mmlsr").is_file()
