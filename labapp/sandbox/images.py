"""The images labapp needs, built offline from Debian packages.

- the node base image: a Debian rootfs with a Docker engine (debootstrap, then import),
  without set-user-id programs or file capabilities;
- the lesson images (lessonimages.py): `alpine` and `nginx`, busybox stand-ins loaded in
  every node under the names the article types;
- the node image: the base plus labapp's node scripts, the engine's authorization plugin
  and the lesson images (the node's root filesystem is read-only, so they are in the image).

Every image is tagged with a hash of its recipe, so a build is skipped when the image is
already there and redone when the recipe changes. imagebuild.py has what every build uses.
"""
from __future__ import annotations

import inspect
import os
import shutil
import stat
import struct
import subprocess
import tempfile
import time
from importlib import resources
from typing import Callable

import docker
import docker.errors

from ..config import Settings
from ..errors import ImageBuildError, ImageMissing
from .imagebuild import (IMAGE_LABEL, NODE_PATH, RECIPE_LABEL, RECIPE_VERSION, absent, asset, build_from,
                         import_rootfs, recipe_hash)
from .lessonimages import build_lesson_image, busybox_from, lesson_bundle, lesson_images

NODE_PACKAGES = (
    "docker.io", "iptables", "iproute2", "procps", "ca-certificates", "tcpdump",
    "busybox-static", "jq", "ipvsadm", "util-linux", "dnsmasq-base", "python3",
)
NODE_UID = 100000  # the node's user: root of its user namespace (see node-init.sh)
NETMOVE = "usr/local/libexec/labapp/ip"  # busybox (its `ip` applet by this name), allowed CAP_NET_ADMIN: moves eth0 at boot
MASKED = "usr/local/share/labapp/masked"  # mode 0, root's: bound over the /proc files a node hides
_CAP_NET_ADMIN = 12

Say = Callable[[str], None]


def base_recipe(settings: Settings) -> str:
    """The node base image's recipe hash: the Debian suite and packages (the slow part) and
    what is done to the root filesystem after debootstrap."""
    return recipe_hash(RECIPE_VERSION, settings.debian_suite, *NODE_PACKAGES, str(NODE_UID), NETMOVE, MASKED,
                       inspect.getsource(_slim), inspect.getsource(_harden))


def base_image_ref(settings: Settings) -> str:
    return f"labapp/node-base:{base_recipe(settings)}"


_NODE_SCRIPTS = (("node-init.sh", "usr/local/bin/labapp-node-init"),
                 ("node-inner.sh", "usr/local/bin/labapp-node-inner"),
                 ("labapp-runc", "usr/local/bin/labapp-runc"),
                 ("labapp-wait-ready", "usr/local/bin/labapp-wait-ready"))
_AUTHZ_FILES = ("policy.py", "plugin.py")
AUTHZ_DIR = "usr/local/lib/labapp/authz"


def _authz(name: str) -> bytes:
    return resources.files("labapp.sandbox").joinpath("authz", name).read_bytes()


def node_files() -> list[tuple[str, bytes, int]]:
    """What the node image adds to its base: (path, content, mode)."""
    files = [(target, asset(name), 0o755) for name, target in _NODE_SCRIPTS]
    files += [(f"{AUTHZ_DIR}/{name}", _authz(name), 0o644) for name in _AUTHZ_FILES]
    return files


def node_recipe(settings: Settings) -> str:
    """The node image's recipe hash: its base, what it adds, and the lesson images."""
    return recipe_hash(RECIPE_VERSION, base_recipe(settings), *(f"{p}:{m}" for p, _, m in node_files()),
                 *(c for _, c, _ in node_files()), *lesson_image_refs(settings).values())


def node_image_ref(settings: Settings) -> str:
    return f"labapp/node:{node_recipe(settings)}"


def lesson_image_refs(settings: Settings) -> dict[str, str]:
    """{article name: host image reference} for every lesson image."""
    refs: dict[str, str] = {}
    for img in lesson_images():  # a base comes before the images built on it
        parent = refs[img.base].rsplit(":", 1)[1] if img.base else base_recipe(settings)
        refs[img.name] = f"labapp/{img.name}:{img.recipe(parent)}"
    return refs


def all_image_refs(settings: Settings) -> list[str]:
    return [node_image_ref(settings), *lesson_image_refs(settings).values()]


def missing_images(client: docker.DockerClient, settings: Settings) -> list[str]:
    """The image references labapp needs that the engine does not have."""
    return [ref for ref in all_image_refs(settings) if absent(client, ref)]


def require_images(client: docker.DockerClient, settings: Settings) -> None:
    """Raise ImageMissing naming each image that is not built."""
    missing = missing_images(client, settings)
    if missing:
        raise ImageMissing(f"image{'s' if len(missing) > 1 else ''} not built: {', '.join(missing)}")


def build_images(client: docker.DockerClient, settings: Settings, say: Say = print,
                 force: bool = False) -> list[str]:
    """Build every image that is missing (all with FORCE); return the references built."""
    built = []
    base_ref, node_ref = base_image_ref(settings), node_image_ref(settings)
    refs = lesson_image_refs(settings)
    todo = [img for img in lesson_images() if force or absent(client, refs[img.name])]
    if not (force or todo or absent(client, node_ref)):
        say(f"node image {node_ref} and lesson images {', '.join(refs)} are up to date")
        _prune_old(client, settings, say)
        return built
    if force or absent(client, base_ref):
        _build_base_image(client, settings, base_ref, say)
        built.append(base_ref)
    if todo:
        busybox = busybox_from(client, base_ref)
        for img in todo:
            build_lesson_image(client, img, refs, busybox)
            say(f"lesson image {img.name} built as {refs[img.name]}")
            built.append(refs[img.name])
    if force or todo or absent(client, node_ref):
        _build_node_image(client, settings, base_ref, node_ref)
        say(f"node image {node_ref} built")
        built.append(node_ref)
    _prune_old(client, settings, say)
    return built


def debian_mirror(settings: Settings) -> str | None:
    """The Debian mirror this machine's apt uses (so the build goes where apt goes)."""
    if settings.debian_mirror:
        return settings.debian_mirror
    candidates = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]
    for path in candidates:
        try:
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    words = line.split()
                    if words[:1] == ["URIs:"] and len(words) > 1 and "security" not in words[1]:
                        return words[1]
                    if words[:1] == ["deb"] and len(words) > 2:
                        url = next((w for w in words[1:] if "://" in w), None)
                        if url and "security" not in url and "debian" in url:
                            return url
        except OSError:
            continue
    return None  # debootstrap's own default


def _build_base_image(client, settings: Settings, ref: str, say: Say) -> None:
    if shutil.which("debootstrap") is None:
        raise ImageBuildError(
            "cannot build the node image: debootstrap is not installed",
            hint="install it (apt-get install debootstrap) or run make, which installs it as root",
        )
    if os.geteuid() != 0:
        raise ImageBuildError("cannot build the node image: debootstrap needs root",
                              hint="run 'labapp images build' as root (make run / make test do)")
    workdir = tempfile.mkdtemp(prefix="labapp-node-", dir=os.environ.get("TMPDIR", "/var/tmp"))
    rootfs = os.path.join(workdir, "rootfs")
    log_path = os.path.join(workdir, "debootstrap.log")
    try:
        cmd = ["debootstrap", "--variant=minbase", "--include=" + ",".join(NODE_PACKAGES),
               settings.debian_suite, rootfs]
        mirror = debian_mirror(settings)
        if mirror:
            cmd.append(mirror)
        say(f"building node base image {ref}: debootstrap {settings.debian_suite} (about a minute)")
        started = time.monotonic()
        with open(log_path, "wb") as log:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            with open(log_path, "rb") as log:
                tail = log.read()[-600:].decode("utf-8", "replace").strip().splitlines()
            raise ImageBuildError(
                f"debootstrap failed (exit {proc.returncode}): {tail[-1] if tail else 'no output'}",
                hint="check that the Debian mirror answers (apt-get update) and see the lines above",
            )
        _slim(rootfs)
        _harden(rootfs)
        say(f"  rootfs ready in {time.monotonic() - started:.0f} s; importing")
        tar_path = os.path.join(workdir, "rootfs.tar")
        subprocess.run(["tar", "-C", rootfs, "--numeric-owner", "--xattrs",
                        "--xattrs-include=security.capability", "-cf", tar_path, "."], check=True)
        shutil.rmtree(rootfs)
        changes = [f"ENV PATH={NODE_PATH}",
                   f"LABEL {IMAGE_LABEL}=node-base {RECIPE_LABEL}={base_recipe(settings)}"]
        import_rootfs(client, tar_path, ref, changes)
        say(f"  node base image {ref} built in {time.monotonic() - started:.0f} s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _slim(rootfs: str) -> None:
    """Drop what a node never needs: package caches, docs, manuals, translations."""
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
                "usr/share/locale"):
        path = os.path.join(rootfs, sub)
        if os.path.isdir(path):
            for entry in os.listdir(path):
                full = os.path.join(path, entry)
                if os.path.isdir(full) and not os.path.islink(full):
                    shutil.rmtree(full, ignore_errors=True)
                elif entry not in ("lock",):
                    os.unlink(full)


def _harden(rootfs: str) -> None:
    """No program of the node gains privileges when run: set-user-id and set-group-id bits
    and file capabilities are removed. Two files are added: the boot helper that moves eth0
    into the node's namespaces (busybox with CAP_NET_ADMIN, runnable by the node's user only:
    iproute2's `ip` drops file capabilities) 
    and the file the node binds over the /proc entries it hides (nobody may open it)."""
    for top, dirs, files in os.walk(rootfs):
        for name in files + dirs:
            path = os.path.join(top, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                continue
            if info.st_mode & (stat.S_ISUID | stat.S_ISGID) and not stat.S_ISDIR(info.st_mode):
                os.chmod(path, stat.S_IMODE(info.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
            try:
                os.removexattr(path, "security.capability", follow_symlinks=False)
            except OSError:
                pass  # it had none
    netmove = os.path.join(rootfs, NETMOVE)
    os.makedirs(os.path.dirname(netmove), exist_ok=True)
    shutil.copyfile(os.path.join(rootfs, "bin/busybox"), netmove)
    os.chown(netmove, NODE_UID, NODE_UID)
    os.chmod(netmove, 0o500)
    # struct vfs_cap_data, revision 2: effective, permitted = CAP_NET_ADMIN
    os.setxattr(netmove, "security.capability", struct.pack("<5I", 0x02000001, 1 << _CAP_NET_ADMIN, 0, 0, 0))
    for place in ("var/lib/docker", "var/lib/docker/swarm"):  # volumes and tmpfs take these owners
        os.makedirs(os.path.join(rootfs, place), exist_ok=True)
        os.chown(os.path.join(rootfs, place), NODE_UID, NODE_UID)
        os.chmod(os.path.join(rootfs, place), 0o700)
    masked = os.path.join(rootfs, MASKED)
    os.makedirs(os.path.dirname(masked), exist_ok=True)
    with open(masked, "wb"):
        pass
    os.chown(masked, 0, 0)
    os.chmod(masked, 0)


def _build_node_image(client, settings: Settings, base_ref: str, ref: str) -> None:
    """The node image: the base plus labapp's scripts, the authorization plugin and the
    lesson images (one small layer)."""
    bundle = lesson_bundle(client, lesson_image_refs(settings))
    files = node_files() + [("opt/labapp/images/lesson-images.tar", bundle, 0o644)]
    build_from(client, base_ref, ref, files, [
        f"ENV PATH={NODE_PATH} DOCKER_HOST=unix:///run/docker.sock DOCKER_CONFIG=/run/labapp/cli",
        f"USER {NODE_UID}:{NODE_UID}",
        'ENTRYPOINT ["/usr/local/bin/labapp-node-init"]',
        f"LABEL {IMAGE_LABEL}=node {RECIPE_LABEL}={node_recipe(settings)}",
    ])


def _prune_old(client, settings: Settings, say: Say) -> None:
    """Remove labapp images of older recipes (never one a container still uses)."""
    keep = set(all_image_refs(settings)) | {base_image_ref(settings)}
    for image in client.images.list(filters={"label": IMAGE_LABEL}):
        for tag in image.tags:
            if tag in keep:
                continue
            try:
                client.images.remove(tag)
                say(f"removed old image {tag}")
            except docker.errors.APIError:
                pass  # still used by a container: it goes with that container's sandbox


