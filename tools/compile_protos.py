#!/usr/bin/env python3
"""Regenerate tfckpt_lab/protos/*_pb2.py from the .proto files beside them.

    pip install grpcio-tools && python tools/compile_protos.py

The generated modules are committed.  protoc stamps them with a check that the
protobuf runtime is at least as new as protoc itself; we remove that check so the
modules work across the whole protobuf range pyproject.toml declares (the builder
API they use has been stable since protobuf 3.20).  tests/test_protos.py imports
them under the installed runtime.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO_DIR = ROOT / "tfckpt_lab" / "protos"

_VERSION_CHECK = re.compile(
    r"from google\.protobuf import runtime_version as _runtime_version\n"
    r"|_runtime_version\.ValidateProtobufRuntimeVersion\([^)]*\)\n",
    re.S,
)


def main() -> int:
    protos = sorted(p.relative_to(ROOT).as_posix() for p in PROTO_DIR.glob("*.proto"))
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"--proto_path={ROOT}", f"--python_out={ROOT}", *protos]
    print(" ".join(cmd))
    subprocess.run(cmd, check=True)
    for gen in PROTO_DIR.glob("*_pb2.py"):
        text = gen.read_text()
        text = _VERSION_CHECK.sub("", text)
        gen.write_text(text)
        print("wrote", gen.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
