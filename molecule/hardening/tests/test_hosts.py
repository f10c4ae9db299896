"""Host-level facts a user would check, as testinfra tests (issue 17): units active, files' modes and
owners, ports listening only where the firewall guards them, no key on any command line.

Run by verify.yml against the molecule inventory:
    pytest --hosts=ansible://all --ansible-inventory=$MOLECULE_INVENTORY_FILE molecule/hardening/tests
Behaviour (probes across hosts, API keys, rollouts) stays in verify.yml's Ansible tasks.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

TABLE = "gpufleet_sglang"
GROUP = "mg_hard"
SSH = {22}
# Keys set by molecule.yml (test values): none may appear on a command line.
SCENARIO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "molecule.yml")
KEY_VARS = ("sglang_api_key", "sglang_admin_api_key", "sglang_router_api_key", "sglang_router_admin_api_key")


def is_router(host):
    return "sglang_routers" in host.ansible.get_variables()["group_names"]


def keys(host):
    """Every key the scenario sets, on every host (a key of another host's role must not appear either).

    Read from molecule.yml: testinfra's get_variables() merges only a host's direct groups' vars,
    not those of parent groups (sglang_model_groups), so the model hosts' key is missing there.
    """
    found = set()
    for var in KEY_VARS:
        value = host.ansible.get_variables().get(var)
        if value:
            found.add(str(value))
    with open(SCENARIO, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    for group_vars in config["provisioner"]["inventory"]["group_vars"].values():
        for var in KEY_VARS:
            if (group_vars or {}).get(var):
                found.add(str(group_vars[var]))
    return found


def test_units_are_active_and_enabled(host):
    units = ["sglang-router", "gpufleet-firewall"] if is_router(host) else ["sglang-%s" % GROUP, "gpufleet-firewall"]
    for unit in units:
        service = host.service(unit)
        assert service.is_enabled, unit
    main = "sglang-router" if is_router(host) else "sglang-%s" % GROUP
    assert host.service(main).is_running


@pytest.mark.parametrize(
    "path, mode, router",
    [
        ("/etc/sglang/%s.secrets.yaml" % GROUP, 0o600, False),
        ("/etc/sglang/%s.env" % GROUP, 0o600, False),
        ("/etc/sglang/%s.identity" % GROUP, 0o644, False),
        ("/etc/systemd/system/sglang-%s.service" % GROUP, 0o644, False),
        ("/etc/sglang-router/api-key", 0o600, True),
        ("/etc/sglang-router/admin-api-key", 0o600, True),
        ("/etc/systemd/system/sglang-router.service", 0o644, True),
        ("/etc/gpufleet/firewall/%s.nft" % TABLE, 0o644, None),
        ("/etc/systemd/system/gpufleet-firewall.service", 0o644, None),
    ],
)
def test_files_modes_and_owners(host, path, mode, router):
    if router is not None and router != is_router(host):
        pytest.skip("not on this kind of host")
    f = host.file(path)
    assert f.is_file, path
    assert (f.mode, f.user, f.group) == (mode, "root", "root"), path


def test_key_directories_are_private(host):
    path = "/etc/sglang-router" if is_router(host) else "/etc/sglang"
    d = host.file(path)
    assert d.is_directory and d.user == "root" and d.mode & 0o007 == 0, (path, oct(d.mode))


def _ports(expr):
    out = set()
    for part in expr.strip("{} ").split(","):
        lo, _, hi = part.strip().partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def guarded_ports(host):
    """TCP ports the live gpufleet table drops for every source it does not allow."""
    text = host.check_output("nft --stateless list table inet %s" % TABLE)
    ports = set()
    for expr in re.findall(r"tcp dport (\{[^}]*\}|\d+) (?:counter )?drop", text):
        ports |= _ports(expr)
    return ports


def listening(host):
    """(address, port) of every listening TCP socket, from /proc/net/tcp{,6} (no ss/netstat needed).
    Addresses stay in the kernel's hex: 127.x.y.z ends in 7F, ::1 is LOOPBACK6."""
    out = set()
    for name in ("tcp", "tcp6"):
        for line in host.run("cat /proc/net/%s" % name).stdout.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A":  # TCP_LISTEN
                address, port = fields[1].split(":")
                out.add((address, int(port, 16)))
    return out


LOOPBACK6 = "00000000000000000000000001000000"


def is_loopback(address):
    return address == LOOPBACK6 or (address.endswith("7F") and (len(address) == 8 or "FFFF0000" in address))


def test_ports_listen_only_where_the_firewall_guards_them(host):
    guarded = guarded_ports(host)
    assert guarded, "the live table names no port"
    exposed = sorted(
        port for address, port in listening(host) if not is_loopback(address) and port not in guarded | SSH
    )
    assert exposed == [], "listening outside the firewall's ports: %s (guarded: %s)" % (exposed, sorted(guarded))


def test_the_service_ports_are_guarded(host):
    want = {30000, 29000} if is_router(host) else set(range(20000, 20007)) | {20010, 30000}
    assert want <= guarded_ports(host)


def test_no_key_in_any_command_line(host):
    secrets = keys(host)
    assert secrets, "the scenario sets API keys"
    lines = host.check_output("for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done")
    assert len(lines.splitlines()) > 5
    leaked = [s[:12] + "..." for s in secrets if s in lines]
    assert leaked == []


def test_only_the_key_files_hold_a_key(host):
    secrets = keys(host)
    pattern = "|".join(re.escape(s) for s in secrets)
    holders = sorted(host.run("grep -rlE '%s' /etc /opt 2>/dev/null" % pattern).stdout.split())
    expected = (
        ["/etc/sglang-router/admin-api-key", "/etc/sglang-router/api-key"]
        if is_router(host)
        else ["/etc/sglang/%s.secrets.yaml" % GROUP]
    )
    assert holders == expected
