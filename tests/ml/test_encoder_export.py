"""The int8 encoder is exported once into a shared cache; processes that export at the same
time (test workers, two commands on one machine) must each end with a valid model, never
with a file another process was still writing (CI once read a half-written temporary)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXPORT = (
    "import sys; from pathlib import Path; import onnx; "
    "from supportops.ml.embeddings import export_onnx_int8; "
    "path = export_onnx_int8(Path(sys.argv[1])); onnx.checker.check_model(str(path)); "
    "print(path.name)"
)


def test_concurrent_exports_into_an_empty_cache_both_succeed(tmp_path: Path) -> None:
    cache = tmp_path / "encoders"
    runs = [subprocess.Popen([sys.executable, "-c", EXPORT, str(cache)], text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    names = {out.strip() for out, _ in outputs}
    assert len(names) == 1
    assert sorted(p.name for p in cache.iterdir()) == sorted(names)  # no temporaries left
