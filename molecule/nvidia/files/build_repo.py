# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the molecule scenario `nvidia`'s LOCAL, SIGNED apt repositories of TEST-DOUBLE packages.

NVIDIA's repositories are unreachable in the test, so this builds stand-ins with NVIDIA's real
package names, versions and dependency shapes (Debian CUDA repository: nvidia-open-<branch>,
cuda-drivers-<branch>, the fabric manager under its name for the branch - nvidia-fabricmanager from
R580, nvidia-fabricmanager-<branch> before -, nvidia-persistenced; libnvidia-container repository:
nvidia-container-toolkit and friends), in the real repositories' layouts:

  OUT/cuda/debian12/x86_64/                  flat repository ("deb URL /"), key 3bf863cc.pub
  OUT/libnvidia-container/stable/deb/<arch>/ flat repository ("deb URL/$(ARCH) /")
  OUT/libnvidia-container/gpgkey

Each has Packages(.gz), Release, InRelease and Release.gpg signed with a throwaway ed25519 key
generated here (never stored in git); OUT/fingerprint.txt holds its fingerprint.

The packages hold test doubles only: nvidia-smi runs fake_nvidia_smi.py (real captures), nvidia-ctk
is nvidia_ctk_standin.py, the daemons record their argv and sleep. Python 3 stdlib, dpkg-deb, gpg.

  python3 build_repo.py --gpu-fixtures DIR --ctk FILE --out DIR --branch 580
                        --driver 580.159.04-1 [--driver ...] --toolkit 1.17.8-1 [--toolkit ...]

--gpu-fixtures is the project's tests/fixtures/gpu (fake_nvidia_smi.py and the capture folders h200-x2,
h100-x1; they go to /opt/fake-nvidia-smi in the driver stand-in); --ctk is nvidia_ctk_standin.py.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile
import time

ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
MAINTAINER = "gpufleet.sglang test doubles <test@gpufleet.invalid>"

DAEMON = """#!/bin/sh
# TEST DOUBLE of {name} (gpufleet.sglang molecule scenario nvidia): records its argv, then idles.
mkdir -p /run/gpufleet-test
echo "$*" > /run/gpufleet-test/{name}.args
exec sleep infinity
"""

FABRICMANAGER = """#!/bin/sh
# TEST DOUBLE of nv-fabricmanager {version} (gpufleet.sglang molecule scenario nvidia). Like the real
# one it refuses to run against a loaded driver of another version.
LOADED=$(cat /run/gpufleet-test/nvidia-module-version 2>/dev/null || true)
if [ -n "$LOADED" ] && [ "$LOADED" != "{version}" ]; then
  echo "fabric manager version {version} does not match the loaded driver version $LOADED" >&2
  exit 1
fi
mkdir -p /run/gpufleet-test
echo "$*" > /run/gpufleet-test/nv-fabricmanager.args
exec sleep infinity
"""

# Debian's packaging passes --no-persistence-mode; the role's drop-in must replace it.
PERSISTENCED_UNIT = """[Unit]
Description=NVIDIA Persistence Daemon (test double)
Wants=syslog.target

[Service]
Type=simple
ExecStart=/usr/bin/nvidia-persistenced --user nvidia-persistenced --no-persistence-mode --verbose

[Install]
WantedBy=multi-user.target
"""

FABRICMANAGER_UNIT = """[Unit]
Description=NVIDIA fabric manager service (test double)

[Service]
Type=simple
ExecStart=/usr/bin/nv-fabricmanager -c /usr/share/nvidia/nvswitch/fabricmanager.cfg

[Install]
WantedBy=multi-user.target
"""

POSTINST_UNITS = """#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
"""


def upstream(version):
    return version.split(":", 1)[-1].split("-", 1)[0]


def fabricmanager_name(branch):
    """NVIDIA's apt name of the fabric manager for a driver branch. From R580 there is no branch suffix:
    NVIDIA/gpu-driver-container ubuntu22.04|24.04/precompiled/nvidia-driver fabricmanager_install()
    (`-ge 580`: nvidia-fabricmanager, else nvidia-fabricmanager-${DRIVER_BRANCH}); NVIDIA/cloud-native-stack
    playbooks/nvidia-driver.yaml (`>= 580`: nvidia-fabricmanager=<version>-1)."""
    return "nvidia-fabricmanager" if int(branch) >= 580 else "nvidia-fabricmanager-%s" % branch


def driver_packages(branch, version, gpu_fixtures):
    """The Debian CUDA repository's driver packages, as test doubles."""
    up = upstream(version)
    smi_files = {
        "usr/bin/nvidia-smi": (
            "#!/bin/sh\n# TEST DOUBLE of nvidia-smi: prints real captures.\n"
            'exec python3 /opt/fake-nvidia-smi/fake_nvidia_smi.py "$@"\n',
            0o755,
        )
    }
    for rel in ["fake_nvidia_smi.py"] + [
        os.path.join(capture, name)
        for capture in ("h200-x2", "h100-x1")
        for name in sorted(os.listdir(os.path.join(gpu_fixtures, capture)))
    ]:
        with open(os.path.join(gpu_fixtures, rel)) as f:
            smi_files["opt/fake-nvidia-smi/" + rel] = (f.read(), 0o644)
    return [
        dict(
            name="nvidia-open-%s" % branch,
            version=version,
            depends="nvidia-driver-cuda (= {v}), nvidia-kernel-open-dkms (= {v}), nvidia-persistenced (= {v})",
            description="NVIDIA driver %s, open kernel modules (meta package)" % branch,
        ),
        dict(
            name="cuda-drivers-%s" % branch,
            version=version,
            depends="nvidia-driver-cuda (= {v}), nvidia-kernel-dkms (= {v}), nvidia-persistenced (= {v})",
            description="CUDA drivers %s, proprietary kernel modules (meta package)" % branch,
        ),
        dict(
            name="nvidia-driver-cuda",
            version=version,
            files=smi_files,
            description="NVIDIA driver CUDA integration components (nvidia-smi)",
        ),
        dict(
            name="nvidia-kernel-open-dkms",
            version=version,
            conflicts="nvidia-kernel-dkms",
            files={"usr/src/nvidia-%s/VERSION" % up: (up + "\n", 0o644)},
            description="NVIDIA open GPU kernel module source (DKMS)",
        ),
        dict(
            name="nvidia-kernel-dkms",
            version=version,
            conflicts="nvidia-kernel-open-dkms",
            files={"usr/src/nvidia-%s/VERSION" % up: (up + "\n", 0o644)},
            description="NVIDIA proprietary kernel module source (DKMS)",
        ),
        dict(
            name="nvidia-persistenced",
            version=version,
            postinst=POSTINST_UNITS,
            files={
                "usr/bin/nvidia-persistenced": (DAEMON.format(name="nvidia-persistenced"), 0o755),
                "lib/systemd/system/nvidia-persistenced.service": (PERSISTENCED_UNIT, 0o644),
            },
            description="daemon to maintain persistent software state in the NVIDIA driver",
        ),
        dict(
            name=fabricmanager_name(branch),
            version=version,
            postinst=POSTINST_UNITS,
            files={
                "usr/bin/nv-fabricmanager": (FABRICMANAGER.format(version=up), 0o755),
                "usr/share/nvidia/nvswitch/fabricmanager.cfg": ("LOG_LEVEL=4\n", 0o644),
                "lib/systemd/system/nvidia-fabricmanager.service": (FABRICMANAGER_UNIT, 0o644),
            },
            description="Fabric Manager for NVSwitch based systems",
        ),
    ]


def toolkit_packages(version, ctk_source):
    with open(ctk_source) as f:
        ctk = f.read().replace("@VERSION@", upstream(version))
    return [
        dict(
            name="nvidia-container-toolkit",
            version=version,
            depends="nvidia-container-toolkit-base (= {v}), libnvidia-container-tools (= {v})",
            description="NVIDIA Container toolkit",
        ),
        dict(
            name="nvidia-container-toolkit-base",
            version=version,
            files={
                "usr/lib/nvidia-ctk/nvidia_ctk_standin.py": (ctk, 0o644),
                "usr/bin/nvidia-ctk": (
                    "#!/bin/sh\n# TEST DOUBLE of nvidia-ctk\n"
                    'exec python3 /usr/lib/nvidia-ctk/nvidia_ctk_standin.py "$@"\n',
                    0o755,
                ),
                "usr/bin/nvidia-container-runtime": ('#!/bin/sh\n# TEST DOUBLE\nexec runc "$@"\n', 0o755),
            },
            description="NVIDIA Container Toolkit Base",
        ),
        dict(
            name="libnvidia-container-tools",
            version=version,
            depends="libnvidia-container1 (= {v})",
            files={
                "usr/bin/nvidia-container-cli": (
                    '#!/bin/sh\n# TEST DOUBLE\necho "version: %s"\n' % upstream(version),
                    0o755,
                )
            },
            description="NVIDIA container runtime library (command-line tools)",
        ),
        dict(name="libnvidia-container1", version=version, description="NVIDIA container runtime library"),
    ]


def build_deb(pkg, workdir, outdir):
    root = tempfile.mkdtemp(dir=workdir)
    debian = os.path.join(root, "DEBIAN")
    os.makedirs(debian)
    for rel, (content, mode) in sorted(pkg.get("files", {}).items()):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, mode)
    control = [
        "Package: %s" % pkg["name"],
        "Version: %s" % pkg["version"],
        "Architecture: %s" % ARCH,
        "Maintainer: %s" % MAINTAINER,
        "Section: non-free/libs",
        "Priority: optional",
    ]
    for field in ("depends", "conflicts"):
        if pkg.get(field):
            control.append("%s: %s" % (field.capitalize(), pkg[field].format(v=pkg["version"])))
    control.append("Description: %s (TEST DOUBLE)" % pkg["description"])
    control.append(" Stand-in built by the gpufleet.sglang molecule scenario nvidia; not NVIDIA's package.")
    with open(os.path.join(debian, "control"), "w") as f:
        f.write("\n".join(control) + "\n")
    if pkg.get("postinst"):
        with open(os.path.join(debian, "postinst"), "w") as f:
            f.write(pkg["postinst"])
        os.chmod(os.path.join(debian, "postinst"), 0o755)
    deb = os.path.join(outdir, "%s_%s_%s.deb" % (pkg["name"], pkg["version"], ARCH))
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, deb], check=True, stdout=subprocess.DEVNULL
    )
    shutil.rmtree(root)
    return deb


def digests(path):
    with open(path, "rb") as f:
        data = f.read()
    return {
        "size": len(data),
        "MD5Sum": hashlib.md5(data).hexdigest(),
        "SHA1": hashlib.sha1(data).hexdigest(),
        "SHA256": hashlib.sha256(data).hexdigest(),
    }


def write_index(repo_dir, debs, gnupghome, label):
    """Packages, Packages.gz, Release, then InRelease and Release.gpg signed with the test key."""
    stanzas = []
    for deb in sorted(debs):
        control = subprocess.run(["dpkg-deb", "-f", deb], capture_output=True, text=True, check=True).stdout
        d = digests(deb)
        stanzas.append(
            control.rstrip("\n")
            + "\nFilename: ./%s\nSize: %d\nMD5sum: %s\nSHA1: %s\nSHA256: %s\n"
            % (os.path.basename(deb), d["size"], d["MD5Sum"], d["SHA1"], d["SHA256"])
        )
    packages = os.path.join(repo_dir, "Packages")
    with open(packages, "w") as f:
        f.write("\n".join(stanzas))
    with open(packages, "rb") as f, gzip.open(packages + ".gz", "wb") as g:
        g.write(f.read())
    lines = [
        "Origin: gpufleet test doubles",
        "Label: %s (TEST DOUBLE)" % label,
        "Architectures: %s" % ARCH,
        "Date: %s" % time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime()),
    ]
    for algo in ("MD5Sum", "SHA1", "SHA256"):
        lines.append("%s:" % algo)
        for name in ("Packages", "Packages.gz"):
            d = digests(os.path.join(repo_dir, name))
            lines.append(" %s %d %s" % (d[algo], d["size"], name))
    release = os.path.join(repo_dir, "Release")
    with open(release, "w") as f:
        f.write("\n".join(lines) + "\n")
    gpg = ["gpg", "--homedir", gnupghome, "--batch", "--yes"]
    subprocess.run(gpg + ["--clearsign", "--output", os.path.join(repo_dir, "InRelease"), release], check=True)
    subprocess.run(gpg + ["--armor", "--detach-sign", "--output", release + ".gpg", release], check=True)


def make_key(gnupghome):
    os.makedirs(gnupghome, mode=0o700, exist_ok=True)
    gpg = ["gpg", "--homedir", gnupghome, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run(
        gpg
        + [
            "--quick-generate-key",
            "gpufleet test repository (THROWAWAY) <test@gpufleet.invalid>",
            "ed25519",
            "sign",
            "1d",
        ],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    out = subprocess.run(
        ["gpg", "--homedir", gnupghome, "--batch", "--with-colons", "--list-keys"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fingerprint = [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")][0]
    public = subprocess.run(
        ["gpg", "--homedir", gnupghome, "--batch", "--armor", "--export", fingerprint],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return fingerprint, public


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--gpu-fixtures", required=True, help="tests/fixtures/gpu: fake_nvidia_smi.py, h200-x2/, h100-x1/"
    )
    parser.add_argument("--ctk", required=True, help="nvidia_ctk_standin.py")
    parser.add_argument("--out", required=True)
    parser.add_argument("--branch", required=True)
    parser.add_argument("--driver", action="append", required=True, help="driver package version (repeat)")
    parser.add_argument("--toolkit", action="append", required=True, help="toolkit package version (repeat)")
    parser.add_argument("--gnupghome", default="/root/.gnupg-gpufleet-test-repo")
    args = parser.parse_args()

    fingerprint, public_key = make_key(args.gnupghome)
    work = tempfile.mkdtemp()
    repos = {
        "cuda/debian12/x86_64": (
            [p for v in args.driver for p in driver_packages(args.branch, v, args.gpu_fixtures)],
            ["3bf863cc.pub"],
        ),
        "libnvidia-container/stable/deb/%s" % ARCH: (
            [p for v in args.toolkit for p in toolkit_packages(v, args.ctk)],
            ["../../../gpgkey"],
        ),
    }
    for rel, (packages, key_names) in repos.items():
        repo_dir = os.path.join(args.out, rel)
        os.makedirs(repo_dir, exist_ok=True)
        debs = [build_deb(pkg, work, repo_dir) for pkg in packages]
        write_index(repo_dir, debs, args.gnupghome, rel)
        for key_name in key_names:
            with open(os.path.normpath(os.path.join(repo_dir, key_name)), "w") as f:
                f.write(public_key)
    shutil.rmtree(work)
    with open(os.path.join(args.out, "fingerprint.txt"), "w") as f:
        f.write(fingerprint + "\n")
    print(fingerprint)


if __name__ == "__main__":
    main()
