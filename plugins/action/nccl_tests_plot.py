# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side: draw the PNG of a fetched nccl-tests JSON report with matplotlib.

An action plugin rather than a module: module code and module_utils run on the managed host,
and the plot belongs on the controller (matplotlib is a controller requirement, the hosts need
nothing but Python's stdlib). It runs in the ansible-playbook process itself, so it uses the
controller's own matplotlib, with no interpreter to find and no argv to quote.
"""

from __future__ import annotations

import json
import os

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.gpufleet.sglang.plugins.module_utils.atomic_file import write_atomic
from ansible_collections.gpufleet.sglang.plugins.plugin_utils.nccl_tests_plot import PlotError, plot_data, render_png


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("src", "dest"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        src = args.get("src")
        if not src or not isinstance(src, str):
            return dict(result, failed=True, msg="nccl_tests_plot: src (a fetched <name>.json report) is required")
        src = os.path.abspath(os.path.expanduser(src))
        dest = args.get("dest") or (os.path.splitext(src)[0] + ".png")
        dest = os.path.abspath(os.path.expanduser(dest))
        try:
            with open(src, "rb") as handle:
                doc = json.loads(handle.read().decode("utf-8"))
        except (IOError, OSError, ValueError) as exc:
            return dict(
                result,
                failed=True,
                msg="nccl_tests_plot: report %s cannot be read as JSON (%s): fetch the "
                "reports first (nccl_tests_fetch_dir)" % (src, to_native(exc)),
            )
        try:
            data = plot_data(doc)
        except PlotError as exc:
            return dict(result, failed=True, msg="nccl_tests_plot: report %s: %s" % (src, exc))
        try:
            import matplotlib  # noqa: F401  # pylint: disable=unused-import
        except ImportError:
            return dict(
                result,
                failed=True,
                msg="nccl_tests_plot: matplotlib is not installed on the controller: "
                "pip install -r requirements/controller.txt",
            )
        png = render_png(data)
        try:
            with open(dest, "rb") as handle:
                current = handle.read()
        except (IOError, OSError):
            current = None
        changed = current != png
        if changed and not self._task.check_mode:
            write_atomic(dest, png, 0o644)
        result.update(
            changed=changed,
            src=src,
            dest=dest,
            threshold=data["threshold"],
            points=dict((label, len(pts)) for label, pts in data["series"]),
        )
        return result
