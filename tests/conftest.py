# Make the collection importable as ansible_collections.gpufleet.sglang from a
# checkout: collections/ansible_collections/gpufleet/sglang links to the repo root.
from __future__ import annotations

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collections"))
