"""The lesson images, loaded in every node under the names the article types: `alpine` and
`nginx`. They are stand-ins made of busybox (taken from the node base image): `ash`,
`ping`, `nslookup`, `wget`, `nc`, and an httpd that serves a page on port 80 and stops at
once on SIGTERM. The node image carries them as one `docker save` (lesson_bundle), retagged
to the article's names."""
from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass

from .base import LABEL
from .imagebuild import (IMAGE_LABEL, NODE_PATH, RECIPE_LABEL, RECIPE_VERSION, add_file, asset, build_from,
                         import_rootfs, recipe_hash)


@dataclass(frozen=True)
class LessonImage:
    """A lesson image: its name inside the nodes and how it is made."""

    name: str  # as the article types it, e.g. "alpine"
    files: tuple[tuple[str, bytes, int], ...]  # (path, content, mode) it adds
    changes: tuple[str, ...]  # Dockerfile instructions: ENV, CMD, EXPOSE
    base: str | None = None  # another lesson image it is built on (shares its layer)

    def recipe(self, node_tag: str) -> str:
        return recipe_hash(RECIPE_VERSION, node_tag, self.name, str(self.base), repr(self.changes),
                     *(f"{p}:{m}" for p, _, m in self.files), *(c for _, c, _ in self.files))


_BASE_FILES = (
    ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", 0o644),
    ("etc/group", b"root:x:0:\nnogroup:x:65534:\n", 0o644),
    ("etc/nsswitch.conf", b"hosts: files dns\n", 0o644),
)


def lesson_images() -> tuple[LessonImage, ...]:
    """The lesson images and what each carries besides busybox."""
    os_release = b'NAME="labapp stand-in"\nID=labapp\nPRETTY_NAME="busybox (labapp stand-in for %s)"\n'
    return (
        LessonImage(
            name="alpine",
            files=_BASE_FILES + (("etc/os-release", os_release % b"alpine", 0o644),),
            changes=(f"ENV PATH={NODE_PATH}", 'CMD ["/bin/sh"]'),
        ),
        LessonImage(
            name="nginx",
            base="alpine",  # one busybox layer in the node for both images
            files=(
                ("etc/os-release", os_release % b"nginx", 0o644),
                ("docker-entrypoint.sh", asset("nginx-entrypoint.sh"), 0o755),
                ("usr/share/nginx/html/index.html", b"", 0o644),
            ),
            changes=('CMD ["/docker-entrypoint.sh"]', "EXPOSE 80/tcp"),
        ),
    )


def busybox_from(client, node_ref: str) -> bytes:
    """The static busybox binary of the node image (copied out, not run)."""
    container = client.api.create_container(node_ref, command=["true"], entrypoint=[],
                                            labels={LABEL: "image-build"})
    try:
        stream, _ = client.api.get_archive(container["Id"], "/bin/busybox")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            if member is not None and member.issym():  # /bin/busybox may be a link
                target = member.linkname
                stream, _ = client.api.get_archive(container["Id"], target if target.startswith("/")
                                                   else "/bin/" + target)
                return _busybox_from_tar(b"".join(stream))
            return tar.extractfile(member).read()
    finally:
        client.api.remove_container(container["Id"], force=True)


def _busybox_from_tar(data: bytes) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.extractfile(tar.next()).read()


def _applets(busybox: bytes) -> list[str]:
    """The applets this busybox provides (it runs here: it is the host's architecture)."""
    with tempfile.TemporaryDirectory(prefix="labapp-busybox-") as tmp:
        path = os.path.join(tmp, "busybox")  # busybox picks its applet by its own name
        with open(path, "wb") as handle:
            handle.write(busybox)
        os.chmod(path, 0o755)
        out = subprocess.run([path, "--list"], capture_output=True, check=True).stdout
    return [a for a in out.decode().split() if a and a != "busybox"]


def build_lesson_image(client, image: LessonImage, refs: dict[str, str], busybox: bytes) -> None:
    """A root image is imported from a busybox rootfs; one with a base is built on it."""
    ref = refs[image.name]
    label = f"LABEL {IMAGE_LABEL}={image.name} {RECIPE_LABEL}={ref.rsplit(':', 1)[1]}"
    if image.base:
        build_from(client, refs[image.base], ref, image.files, [*image.changes, label])
        return
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        dirs = {"bin", "etc", "tmp", "root", "var", "usr", "usr/share", "proc", "sys", "dev"}
        dirs |= {os.path.dirname(p) for p, _, _ in image.files if os.path.dirname(p)}
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        add_file(tar, "bin/busybox", busybox, 0o755)
        for applet in _applets(busybox):
            link = tarfile.TarInfo("bin/" + applet)
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        for path, content, mode in image.files:
            add_file(tar, path, content, mode)
    import_rootfs(client, buffer.getvalue(), ref, [*image.changes, label])


def lesson_bundle(client, refs: dict[str, str]) -> bytes:
    """One `docker save` of every lesson image (REFS: article name -> host reference; so a
    shared layer is loaded once), with the
    tags rewritten to the article's names (`alpine:latest`), so the node's `docker images`
    shows exactly those. The node loads it at start (/opt/labapp/images/lesson-images.tar)."""
    from .dockerwire import stream_get  # docker-py's get_image saves one image; this saves several

    with stream_get(client.api, "/images/get", {"names": list(refs.values())}) as response:
        saved = b"".join(response.iter_content(1 << 16))
    return retag_saved_image(saved, {ref: f"{name}:latest" for name, ref in refs.items()})


def retag_saved_image(saved: bytes, new_refs: dict[str, str]) -> bytes:
    """Rewrite the tags inside a `docker save` tar: each old reference in NEW_REFS is named
    by its new one when `docker load` reads it."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(saved)) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if member.name == "manifest.json":
                manifest = json.loads(data)
                for entry in manifest:
                    entry["RepoTags"] = [new_refs.get(t, t) for t in entry.get("RepoTags") or []]
                data = json.dumps(manifest).encode()
            elif member.name == "repositories":
                repos = {}
                for repo, tags in json.loads(data).items():
                    for tag, image_id in tags.items():
                        new_repo, new_tag = new_refs.get(f"{repo}:{tag}", f"{repo}:{tag}").rsplit(":", 1)
                        repos.setdefault(new_repo, {})[new_tag] = image_id
                data = json.dumps(repos).encode()
            elif member.name == "index.json":
                index = json.loads(data)
                for entry in index.get("manifests", []):
                    notes = entry.get("annotations") or {}
                    old = notes.get("io.containerd.image.name", "").removeprefix("docker.io/")
                    if old in new_refs:
                        notes["io.containerd.image.name"] = f"docker.io/library/{new_refs[old]}"
                        notes["org.opencontainers.image.ref.name"] = new_refs[old].rsplit(":", 1)[1]
                data = json.dumps(index).encode()
            if data is not None:
                member.size = len(data)
                dst.addfile(member, io.BytesIO(data))
            else:
                dst.addfile(member)
    return out.getvalue()
