"""Host-reaching primitives, tried from inside a node (run there by test_node_walls.py with
the node's own python3: `python3 -I -c SOURCE`). Prints one JSON object: for each primitive,
{"done": bool, "errno": name or null, "detail": str}. "done" means the primitive WORKED
(a hole); a wall holds when it did not, and the test reads the error to know which wall.

Nothing here changes a host-global setting: core_pattern is written back with the value
just read, sysrq-trigger is never written with a command key, and nothing else is written
outside the node's own tmpfs.
"""
import ctypes
import errno
import json
import os

libc = ctypes.CDLL(None, use_errno=True)
results = {}
X86_64 = {"init_module": 175, "finit_module": 313, "name_to_handle_at": 303, "open_by_handle_at": 304,
          "ptrace": 101, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "kexec_load": 246,
          "io_uring_setup": 425, "keyctl": 250}


def record(name, done, err=None, detail=""):
    results[name] = {"done": done, "errno": errno.errorcode.get(err) if err else None, "detail": detail[:300]}


def attempt(name, fn):
    try:
        detail = fn()
        record(name, True, None, str(detail or ""))
    except OSError as exc:
        record(name, False, exc.errno, str(exc))


def syscall(name, *args):
    ctypes.set_errno(0)
    ret = libc.syscall(X86_64[name], *args)
    err = ctypes.get_errno()
    if ret == -1:
        record(name, False, err, os.strerror(err))
    else:
        record(name, True, None, f"returned {ret}")


CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
MNT_DETACH = 2


def mount(source, target, fstype, flags=0, data=None):
    if libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                  data.encode() if data else None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {fstype or ''} {source} on {target}: {os.strerror(err)}")


def umount(target):
    if libc.umount2(target.encode(), 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"umount {target}: {os.strerror(err)}")


def in_new_pid_namespace(name, fn):
    """Run FN in a child that is PID 1 of a new pid namespace (what a fresh procfs needs)."""
    reader, writer = os.pipe()
    if libc.unshare(CLONE_NEWPID) != 0:
        err = ctypes.get_errno()
        record(name, False, err, f"unshare(CLONE_NEWPID): {os.strerror(err)}")
        return
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        try:
            detail = fn()
            out = {"done": True, "errno": None, "detail": str(detail or "")}
        except OSError as exc:
            out = {"done": False, "errno": errno.errorcode.get(exc.errno), "detail": str(exc)}
        os.write(writer, json.dumps(out).encode())
        os._exit(0)
    os.close(writer)
    data = b""
    while chunk := os.read(reader, 65536):
        data += chunk
    os.waitpid(pid, 0)
    results[name] = json.loads(data)
    results[name]["detail"] = results[name]["detail"][:300]


def write_back(path):
    def go():
        with open(path) as handle:
            value = handle.read()
        with open(path, "w") as handle:  # the value just read: never a new one
            handle.write(value)
        return f"wrote back {value.strip()!r}"
    return go


def read(path, size=64):
    def go():
        with open(path, "rb") as handle:
            return handle.read(size).hex()
    return go


def write_file(path):
    def go():
        with open(path, "w") as handle:
            handle.write("labapp probe\n")
        os.unlink(path)
        return "written"
    return go


results["whoami"] = {"uid": os.getuid(), "uid_map": open("/proc/self/uid_map").read().split(),
                     "cap_eff": [line.split()[1] for line in open("/proc/self/status") if line.startswith("CapEff")][0]}
results["exists"] = {p: os.path.exists(p) for p in ("/proc/kcore", "/proc/sysrq-trigger", "/proc/kallsyms")}

attempt("core_pattern", write_back("/proc/sys/kernel/core_pattern"))
FRESH = "/tmp/labapp-probe/proc"
os.makedirs(FRESH, exist_ok=True)


def fresh_proc_core_pattern():
    """A fresh procfs of a new pid namespace, then the same write-back through it."""
    mount("proc", FRESH, "proc")
    return write_back(FRESH + "/sys/kernel/core_pattern")()


def fresh_proc_kallsyms():
    """Kernel addresses through a fresh procfs: done when any address is not zero."""
    mount("proc", FRESH, "proc")
    with open(FRESH + "/kallsyms") as handle:
        lines = [next(handle) for _ in range(50)]
    if all(line.startswith("0000000000000000") for line in lines):
        raise OSError(errno.EPERM, "every address reads as zero")
    return lines[0]


in_new_pid_namespace("core_pattern_fresh_proc", fresh_proc_core_pattern)
in_new_pid_namespace("fresh_proc_kallsyms_addresses", fresh_proc_kallsyms)
attempt("kcore", read("/proc/kcore"))
attempt("kallsyms", read("/proc/kallsyms"))
if os.path.exists("/proc/sysrq-trigger"):
    attempt("sysrq_trigger_open", lambda: open("/proc/sysrq-trigger", "w").close())
attempt("write_usr", write_file("/usr/labapp-probe"))
attempt("write_bin", write_file("/bin/labapp-probe"))
attempt("write_sys", write_file("/sys/kernel/labapp-probe"))

# open_by_handle_at through a file the host bind-mounted into the node.
handle = ctypes.create_string_buffer(8 + 128)
ctypes.memmove(handle, (128).to_bytes(4, "little"), 4)
mount_id = ctypes.c_int()
syscall("name_to_handle_at", -100, b"/etc/hosts", handle, ctypes.byref(mount_id), 0)
syscall("open_by_handle_at", -100, handle, os.O_RDONLY)

empty = b"\x00" * 16
syscall("init_module", empty, len(empty), b"")
syscall("finit_module", -1, b"", 0)
syscall("kexec_load", 0, 0, 0, 0)
syscall("bpf", 0, 0, 0)
syscall("perf_event_open", 0, 0, -1, -1, 0)
syscall("userfaultfd", 0)
syscall("io_uring_setup", 1, 0)
syscall("keyctl", 0, 0, 0, 0, 0)
# ptrace a process outside the node: PID 1 of the host is no process of the node's pid
# namespace; the node's own PID 1 stands for "anything".
syscall("ptrace", 16, 1, 0, 0)  # PTRACE_ATTACH

# A host block device (from /proc/partitions: the host's disks are listed there).
disks = [line.split() for line in open("/proc/partitions").read().splitlines()[2:] if line.split()]
if disks:
    major, minor, _, disk = disks[0][:4]

    def host_disk():
        node = f"/tmp/labapp-probe/{disk}"
        os.mknod(node, 0o600 | 0o060000, os.makedev(int(major), int(minor)))  # S_IFBLK
        os.makedirs("/tmp/labapp-probe/m", exist_ok=True)
        mount(node, "/tmp/labapp-probe/m", "ext4", 1)  # MS_RDONLY
        return "mounted the host's disk"
    attempt("mknod_host_disk", host_disk)
else:
    results["mknod_host_disk"] = {"untried": "/proc/partitions lists no disk"}


def cgroup_release_agent():
    """A fresh cgroup v1 hierarchy, whose root has release_agent."""
    os.makedirs("/tmp/labapp-probe/cg", exist_ok=True)
    mount("cgroup", "/tmp/labapp-probe/cg", "cgroup", 0, "none,name=labapp_probe")
    with open("/tmp/labapp-probe/cg/release_agent", "w") as handle:
        handle.write("")
    return "release_agent is writable"


attempt("cgroup_v1_release_agent", cgroup_release_agent)


def lift_proc_sys_mask():
    """Remove the read-only mask over /proc/sys (what the node's root may do in its own mount
    namespace), then write core_pattern back: the kernel's own check must still refuse."""
    umount("/proc/sys/net")
    umount("/proc/sys")
    return write_back("/proc/sys/kernel/core_pattern")()


attempt("umount_proc_sys", lift_proc_sys_mask)
print(json.dumps(results))
