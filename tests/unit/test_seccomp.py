"""The hardened node's seccomp profile: the committed copy is what the generator writes,
and what it refuses is really absent."""
import json
from importlib import resources

from labapp.sandbox import seccomp


def committed() -> str:
    return resources.files("labapp.sandbox").joinpath("assets", "node-seccomp.json").read_text()


def test_the_committed_profile_is_the_generated_one():
    assert committed() == seccomp.profile_json(), \
        "regenerate it: python -m labapp.sandbox.seccomp > labapp/sandbox/assets/node-seccomp.json"


def allowed_names(profile) -> set[str]:
    return {name for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" for name in rule["names"]}


def test_what_reaches_the_host_kernel_is_refused_and_the_engine_keeps_what_it_needs():
    profile = json.loads(committed())
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    allowed = allowed_names(profile)
    for name in ("init_module", "finit_module", "kexec_load", "bpf", "perf_event_open", "userfaultfd",
                 "open_by_handle_at", "io_uring_setup", "ptrace", "process_vm_writev", "reboot", "swapon",
                 "clock_settime", "syslog", "iopl", "acct"):
        assert name not in allowed, name
    assert set(seccomp.REFUSED).isdisjoint(allowed)
    for name in ("unshare", "setns", "mount", "umount2", "pivot_root", "clone", "sethostname"):
        assert name in allowed, name
    fallbacks = {n for rule in profile["syscalls"] if rule.get("errnoRet") == seccomp.ENOSYS for n in rule["names"]}
    assert {"clone3", "keyctl", "fsopen"} <= fallbacks
    vsock = next(rule for rule in profile["syscalls"] if rule["names"] == ["socket"])
    assert vsock["args"] == [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]
