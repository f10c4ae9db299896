# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the four model_manifest_* modules share: their common options and the way they end.

The option fragments mirror the doc fragments in ``plugins/doc_fragments/model_manifest.py``
(``HOST_OPTIONS`` its ``DOCUMENTATION``, ``HASHING_OPTIONS`` its ``HASHING``); a module that
extends a doc fragment adds the matching fragment here, so its documentation and its
``argument_spec`` stay in step (``ansible-test sanity`` validate-modules compares the two).
The work itself is done by the pure ``run_*`` functions of ``model_manifest``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.model_manifest import ManifestError

# gpufleet.sglang.model_manifest (every model_manifest_* module).
HOST_OPTIONS = dict(
    host=dict(type="str", default="this host"),
)

# gpufleet.sglang.model_manifest.hashing (create and verify).
HASHING_OPTIONS = dict(
    cache=dict(type="path"),
    full=dict(type="bool", default=False),
    return_manifest=dict(type="bool", default=False),
)

Runner = Callable[[Mapping[str, Any], bool], Dict[str, Any]]


def argument_spec(own: Mapping[str, Any], *fragments: Mapping[str, Any]) -> Dict[str, Any]:
    """The module's ``own`` options plus the shared ``fragments``; a name given twice is a bug."""
    spec = dict(own)
    for fragment in fragments:
        for name, option in fragment.items():
            if name in spec:
                raise ValueError("option %r is both the module's own and a shared one" % name)
            spec[name] = dict(option)
    return spec


def run_module(spec: Mapping[str, Any], runner: Runner) -> None:
    """Parse the parameters against ``spec``, run ``runner(params, check_mode)`` and end the task.

    A ``ManifestError`` fails the task with the host name in front; a result with ``failed`` true
    (verify's problems, space's shortfall) fails it with the whole result; otherwise it exits.
    """
    module = AnsibleModule(argument_spec=dict(spec), supports_check_mode=True)
    try:
        result = runner(module.params, module.check_mode)
    except ManifestError as exc:
        module.fail_json(msg="%s: %s" % (module.params["host"], exc))
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)
