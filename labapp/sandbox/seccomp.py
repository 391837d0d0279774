"""The seccomp profile of a hardened node container, and the script that writes it.

A node runs dockerd, containerd and runc as root of its own user namespace: they make
namespaces, mount and pivot, which Docker's default profile allows only with CAP_SYS_ADMIN.
This profile follows the default profile's shape (allow-list, everything else EPERM) and
its choices for ordinary system calls, allows the namespace and mount calls a container
engine needs (the user namespace, not the profile, is what bounds them), and refuses what
no node needs and what has reached the host before: kernel modules, kexec, BPF,
perf_event_open, userfaultfd, open_by_handle_at, io_uring, ptrace and process_vm_*,
keyrings, syslog, the clock, reboot, swap, accounting, raw I/O ports, quotas and fanotify.

`python -m labapp.sandbox.seccomp` prints the profile; the committed copy is
labapp/sandbox/assets/node-seccomp.json (a unit test keeps the two equal).
"""
from __future__ import annotations

import json
import sys

ENOSYS = 38  # "not implemented": the caller falls back (glibc and Go to clone, runc skips keyrings)

# Ordinary system calls: files, memory, processes, signals, time (reading), sockets, IPC,
# scheduling, extended attributes, event notification.
ORDINARY = """
accept accept4 access alarm bind brk capget capset chdir chmod chown chown32 clock_getres
clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64 close
close_range connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl
epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat
exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod
fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork
fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex
futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid
geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid
getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list
getrusage getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr
inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy
io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill
landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link
linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise
membarrier memfd_create mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2
mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
nanosleep newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2
pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64
pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv
recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2
restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn
rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity
sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send
sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32
setresuid setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt
set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown
sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64
statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time
timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64
times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime utimensat
utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
""".split()

# What a container engine does inside its user namespace (dockerd, containerd, runc).
ENGINE = "clone unshare setns mount umount umount2 pivot_root chroot sethostname setdomainname".split()

# Answered "not implemented", so that the caller falls back to what is allowed above:
# clone3 (its flags are in memory, out of a filter's reach) to clone; the new mount API to
# mount(2); keyrings (runc skips the session keyring on ENOSYS).
FALL_BACK = ("clone3 fsopen fsconfig fsmount fspick move_mount open_tree mount_setattr "
             "keyctl add_key request_key").split()

# Refused (never in the profile): named here so that the test can prove each is absent.
REFUSED = ("init_module finit_module delete_module kexec_load kexec_file_load bpf perf_event_open "
           "userfaultfd open_by_handle_at name_to_handle_at io_uring_setup io_uring_enter "
           "io_uring_register ptrace process_vm_readv process_vm_writev kcmp pidfd_getfd "
           "process_madvise syslog settimeofday stime clock_settime clock_settime64 adjtimex "
           "clock_adjtime clock_adjtime64 reboot swapon swapoff acct iopl ioperm quotactl quotactl_fd "
           "fanotify_init lookup_dcookie vhangup get_mempolicy mbind set_mempolicy "
           "set_mempolicy_home_node move_pages migrate_pages uselib ustat sysfs _sysctl nfsservctl "
           "vm86 vm86old create_module get_kernel_syms query_module").split()

AF_VSOCK = 40
# personality(2) values the default profile allows: PER_LINUX, UNAME26, PER_LINUX32,
# UNAME26|PER_LINUX32, and 0xffffffff (query).
PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)


def profile() -> dict:
    """The node's seccomp profile, as Docker's API takes it (SecurityOpt seccomp=<json>)."""
    rules = [
        {"names": sorted(ORDINARY + ENGINE), "action": "SCMP_ACT_ALLOW"},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": AF_VSOCK, "op": "SCMP_CMP_NE"}]},
        *({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
           "args": [{"index": 0, "value": value, "op": "SCMP_CMP_EQ"}]} for value in PERSONALITIES),
        {"names": ["arch_prctl", "modify_ldt"], "action": "SCMP_ACT_ALLOW",
         "includes": {"arches": ["amd64", "x32", "x86"]}},
        {"names": ["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
                   "cacheflush", "set_tls"], "action": "SCMP_ACT_ALLOW",
         "includes": {"arches": ["arm", "arm64"]}},
        {"names": FALL_BACK, "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS},
    ]
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        ],
        "syscalls": rules,
    }


def profile_json() -> str:
    return json.dumps(profile(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(profile_json())
