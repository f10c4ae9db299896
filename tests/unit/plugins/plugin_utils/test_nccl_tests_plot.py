"""The PNG of an nccl-tests report is drawn on the controller with matplotlib (issue 17), from the
JSON report nccl_tests_check writes on the host and the role fetches: every plotted value comes
from that JSON, the file is a real PNG, the action is idempotent and bad input is a message."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import stat
import struct
import subprocess
import sys

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils import nccl_tests_parse as ntp
from ansible_collections.gpufleet.sglang.plugins.module_utils import nccl_tests_report as ntr
from ansible_collections.gpufleet.sglang.plugins.module_utils import nccl_tests_verdict as ntv
from ansible_collections.gpufleet.sglang.plugins.plugin_utils import nccl_tests_plot as plot

ROOT = pathlib.Path(__file__).resolve().parents[4]
FIXTURES = ROOT / "tests" / "fixtures" / "nccl-tests"
PLAYBOOK = shutil.which("ansible-playbook", path=str(pathlib.Path(sys.executable).parent)) or "ansible-playbook"
GIB = 1024**3


def report(tmp_path, fixture="all_reduce_perf_g2.txt"):
    """The JSON report nccl_tests_check writes for a real 2 x H200 capture (threshold from the table: 290)."""
    parsed = ntp.parse((FIXTURES / fixture).read_text())
    verdict = ntv.evaluate(parsed, host="gpu-a1")
    paths, _changed = ntr.write_reports(str(tmp_path), parsed, verdict)
    return pathlib.Path(paths[0])


def png_size(data):
    assert data[:8] == plot.PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plotted_values_are_the_reports_rows(tmp_path):
    doc = json.loads(report(tmp_path).read_text())
    data = plot.plot_data(doc)
    assert data["title"] == "host gpu-a1 all_reduce_perf" and data["passed"] is True
    assert data["threshold"] == 290.0 and data["min_bytes"] == GIB
    labels = [label for label, _pts in data["series"]]
    assert labels == ["out-of-place", "in-place"]
    oop = dict(data["series"][0][1])
    inp = dict(data["series"][1][1])
    # every row with a size and a busbw, nothing else; the capture's 1 GiB and 4 GiB rows
    assert len(oop) == len([r for r in doc["rows"] if r["size"] > 0]) == 30
    assert oop[GIB] == pytest.approx(327.40) and inp[GIB] == pytest.approx(328.55)
    assert oop[4 * GIB] == pytest.approx(343.94)


def test_the_figure_draws_the_json_not_a_reparse(tmp_path):
    path = report(tmp_path)
    doc = json.loads(path.read_text())
    doc["rows"][-1]["out_of_place"]["busbw"] = 123.5  # an edited report: the plot must follow it
    doc["verdict"]["expected_busbw_gbps"] = 250.0
    fig = plot.build_figure(plot.plot_data(doc))
    ax = fig.axes[0]
    lines = dict((line.get_label(), line) for line in ax.get_lines())
    xy = lines["out-of-place"].get_xydata()
    assert (xy[-1][0], xy[-1][1]) == (doc["rows"][-1]["size"], 123.5)
    assert list(lines["in-place"].get_ydata()) == [r["in_place"]["busbw"] for r in doc["rows"] if r["size"] > 0]
    assert list(lines["threshold 250 GB/s"].get_ydata()) == [250.0, 250.0]
    assert ax.get_xscale() == "log" and ax.get_title() == "host gpu-a1 all_reduce_perf: PASSED"


def test_png_is_a_png_and_deterministic(tmp_path):
    data = plot.plot_data(json.loads(report(tmp_path).read_text()))
    png = plot.render_png(data)
    assert png_size(png) == (800, 480)
    assert png == plot.render_png(data)


@pytest.mark.parametrize(
    "doc, message",
    [
        ([], "the report is not a JSON object"),
        ({"rows": []}, "the report has no 'verdict' object or 'rows' list"),
        ({"verdict": {}, "rows": {}}, "the report has no 'verdict' object or 'rows' list"),
    ],
)
def test_a_report_that_is_not_one_is_refused_by_name(doc, message):
    with pytest.raises(plot.PlotError, match=message):
        plot.plot_data(doc)


def test_rows_without_busbw_are_skipped_and_an_empty_plot_still_renders():
    doc = {
        "verdict": {
            "subject": "host x",
            "collective": "all_reduce_perf",
            "expected_busbw_gbps": None,
            "min_bytes": GIB,
            "passed": False,
        },
        "rows": [{"size": 0, "out_of_place": {"busbw": 0.0}}, {"size": 1024, "out_of_place": {"busbw": None}}],
    }
    data = plot.plot_data(doc)
    assert data["series"] == [("out-of-place", []), ("in-place", [])] and data["threshold"] is None
    assert png_size(plot.render_png(data)) == (800, 480)


PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - gpufleet.sglang.nccl_tests_plot:
        src: %(src)s
      register: first
    - gpufleet.sglang.nccl_tests_plot:
        src: %(src)s
      register: second
    - ansible.builtin.copy:
        content: "{{ {'first': first, 'second': second} | to_json }}"
        dest: %(out)s
        mode: "0644"
    - gpufleet.sglang.nccl_tests_plot:
        src: %(bad)s
"""


def test_through_ansible_playbook(tmp_path):
    src = report(tmp_path / "r")
    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": []}')
    out = tmp_path / "out.json"
    (tmp_path / "play.yml").write_text(PLAY % {"src": src, "bad": bad, "out": out})
    env = {
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "collections"),
        "PATH": "/usr/bin:/bin",
        "ANSIBLE_NOCOLOR": "1",
        "HOME": str(tmp_path),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "0",
    }
    proc = subprocess.run(
        [PLAYBOOK, "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        env=env,
        cwd=str(tmp_path),
        timeout=300,
        check=False,
    )
    result = json.loads(out.read_text())
    png = src.with_suffix(".png")
    assert result["first"]["changed"] is True and result["first"]["dest"] == str(png)
    assert result["first"]["points"] == {"out-of-place": 30, "in-place": 30} and result["first"]["threshold"] == 290.0
    assert result["second"]["changed"] is False  # idempotent
    assert png_size(png.read_bytes()) == (800, 480)
    assert stat.S_IMODE(os.stat(png).st_mode) == 0o644
    assert proc.returncode == 2
    assert "nccl_tests_plot: report %s: the report has no 'verdict' object or 'rows' list" % bad in proc.stdout
    assert "Traceback" not in proc.stdout
