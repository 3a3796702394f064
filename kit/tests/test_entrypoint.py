"""What ``python -m reintegra_<service>`` does before it serves."""

from __future__ import annotations

import subprocess
import sys

from reintegra_kit.entrypoint import GC_THRESHOLDS


def test_a_service_leaves_its_start_up_objects_out_of_garbage_collection_and_collects_less_often() -> None:
    program = (
        "import gc\n"
        "from reintegra_kit.entrypoint import run_service\n"
        "from reintegra_kit.settings import ServiceSettings\n"
        "class Runtime:\n"
        "    def serve(self, app):\n"
        "        print(gc.get_threshold(), gc.get_freeze_count() > 1000)\n"
        "def build(settings):\n"
        "    print(gc.get_threshold(), gc.get_freeze_count())\n"
        "    return Runtime(), object()\n"
        "run_service(ServiceSettings, build)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        env={
            "REINTEGRA_AUTH_ISSUER": "http://127.0.0.1:1/realms/reintegra",
            "REINTEGRA_AUTH_AUDIENCE": "reintegra",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    built, serving = result.stdout.splitlines()
    assert built == "(700, 10, 10) 0"  # Python's defaults while the service is built
    assert serving == f"{GC_THRESHOLDS} True"  # what start-up built is frozen before serving
