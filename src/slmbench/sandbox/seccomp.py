"""The seccomp filter bubblewrap loads (`--seccomp FD`) before it runs model-written code.

A classic BPF program assembled here with struct: a denylist of system calls no solution
needs (tracing other processes, mounts, namespaces, kernel keyrings, BPF, perf, io_uring,
module and clock administration, and memory that no rlimit counts: memfd and SysV shared
memory). libseccomp would do the same through a native library; ~60 instructions do not
justify one. Calls from another ABI (i386 via int 0x80, x32 on x86_64) are refused
outright, so the denylist cannot be sidestepped by a second syscall table.
"""

from __future__ import annotations

import platform
import struct

# linux/filter.h and linux/seccomp.h
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
EPERM, ENOSYS = 1, 38
# seccomp_data: nr (u32) at 0, arch (u32) at 4, args[6] (u64) from 16; args[0]'s low half on little-endian
_NR, _ARCH, _ARG0 = 0, 4, 16
_X32_BIT = 0x40000000
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
_CLONE_NEW = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000

DENIED = (
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "unshare",
    "setns",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "settimeofday",
    "clock_settime",
    "adjtimex",
    "clock_adjtime",
    "quotactl",
    "syslog",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "vhangup",
    "iopl",
    "ioperm",
    "uselib",
    "memfd_create",
    "memfd_secret",
    "shmget",
    "shmat",
)

# Syscall numbers (asm/unistd_64.h; aarch64 uses asm-generic/unistd.h). iopl, ioperm and uselib are x86 only.
_X86_64 = {
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "pidfd_getfd": 438,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "move_mount": 429,
    "open_tree": 428,
    "mount_setattr": 442,
    "unshare": 272,
    "setns": 308,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "acct": 163,
    "settimeofday": 164,
    "clock_settime": 227,
    "adjtimex": 159,
    "clock_adjtime": 305,
    "quotactl": 179,
    "syslog": 103,
    "open_by_handle_at": 304,
    "name_to_handle_at": 303,
    "lookup_dcookie": 212,
    "vhangup": 153,
    "iopl": 172,
    "ioperm": 173,
    "uselib": 134,
    "memfd_create": 319,
    "memfd_secret": 447,
    "shmget": 29,
    "shmat": 30,
    "clone": 56,
    "clone3": 435,
}
_AARCH64 = {
    "ptrace": 117,
    "process_vm_readv": 270,
    "process_vm_writev": 271,
    "kcmp": 272,
    "pidfd_getfd": 438,
    "mount": 40,
    "umount2": 39,
    "pivot_root": 41,
    "chroot": 51,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "move_mount": 429,
    "open_tree": 428,
    "mount_setattr": 442,
    "unshare": 97,
    "setns": 268,
    "keyctl": 219,
    "add_key": 217,
    "request_key": 218,
    "bpf": 280,
    "perf_event_open": 241,
    "userfaultfd": 282,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "kexec_load": 104,
    "kexec_file_load": 294,
    "init_module": 105,
    "finit_module": 273,
    "delete_module": 106,
    "swapon": 224,
    "swapoff": 225,
    "reboot": 142,
    "acct": 89,
    "settimeofday": 170,
    "clock_settime": 112,
    "adjtimex": 171,
    "clock_adjtime": 266,
    "quotactl": 60,
    "syslog": 116,
    "open_by_handle_at": 265,
    "name_to_handle_at": 264,
    "lookup_dcookie": 18,
    "vhangup": 58,
    "memfd_create": 279,
    "memfd_secret": 447,
    "shmget": 194,
    "shmat": 196,
    "clone": 220,
    "clone3": 435,
}
# AUDIT_ARCH_* (linux/audit.h), the syscall table, and whether the x32 bit must be refused
ARCHES = {"x86_64": (0xC000003E, _X86_64, True), "aarch64": (0xC00000B7, _AARCH64, False)}


def machine() -> str:
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine().lower())


def program(arch: str | None = None) -> bytes | None:
    """The filter for this machine (struct sock_filter[], native byte order), or None where the
    architecture's syscall table is not known here."""
    found = ARCHES.get(arch or machine())
    if found is None:
        return None
    audit_arch, table, x32 = found
    code: list[tuple[int, int | str, int | str, int]] = []  # (op, jump if true, jump if false, k); jumps may be labels

    def op(code_: int, k: int, jt: int | str = 0, jf: int | str = 0) -> None:
        code.append((code_, jt, jf, k))

    op(_LD_W_ABS, _ARCH)
    op(_JEQ, audit_arch, 0, "enosys")
    op(_LD_W_ABS, _NR)
    if x32:
        op(_JGE, _X32_BIT, "enosys", 0)
    for name in DENIED:
        if name in table:
            op(_JEQ, table[name], "eperm", 0)
    op(_JEQ, table["clone3"], "enosys", 0)  # its flags live in memory a filter cannot read; libc falls back to clone
    op(_JEQ, table["clone"], 0, "allow")
    op(_LD_W_ABS, _ARG0)
    op(_JSET, _CLONE_NEW, "eperm", "allow")
    labels = {"allow": len(code), "eperm": len(code) + 1, "enosys": len(code) + 2}
    op(_RET, _ALLOW)
    op(_RET, _ERRNO | EPERM)
    op(_RET, _ERRNO | ENOSYS)

    def target(at: int, jump: int | str) -> int:
        offset = labels[jump] - at - 1 if isinstance(jump, str) else jump
        assert 0 <= offset < 256, offset
        return offset

    return b"".join(struct.pack("=HBBI", c, target(i, jt), target(i, jf), k) for i, (c, jt, jf, k) in enumerate(code))


def describe(arch: str | None = None) -> str:
    arch = arch or machine()
    if arch not in ARCHES:
        return f"off: no syscall table for {arch} here"
    return f"on ({arch}): {len([n for n in DENIED if n in ARCHES[arch][1]])} calls denied (ptrace, mount, unshare, bpf, ...), other ABIs refused"
