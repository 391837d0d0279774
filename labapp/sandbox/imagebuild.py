"""What every labapp image build uses: the recipe hash, the packaged assets, and building an
image from files with no RUN step (nothing is fetched and no container runs), or importing
one from a root filesystem tar. labapp/sandbox/images.py builds the node images with
these, labapp/sandbox/lessonimages.py the lesson images."""
from __future__ import annotations

import hashlib
import io
import tarfile
from importlib import resources

import docker
import docker.errors

from ..errors import ImageBuildError

RECIPE_VERSION = "4"
NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IMAGE_LABEL = "labapp.image"
RECIPE_LABEL = "labapp.recipe"


def asset(name: str) -> bytes:
    return resources.files("labapp.sandbox").joinpath("assets", name).read_bytes()


def recipe_hash(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def absent(client, ref) -> bool:
    try:
        client.images.get(ref)
        return False
    except docker.errors.ImageNotFound:
        return True


def build_from(client, base_ref: str, ref: str, files, instructions: list[str]) -> None:
    """Build REF as BASE_REF plus FILES (one layer) and INSTRUCTIONS, with no RUN step, so
    nothing is fetched and no container runs."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for path, content, mode in files:
            add_file(tar, "files/" + path, content, mode)
        dockerfile = "\n".join([f"FROM {base_ref}", "COPY files/ /", *instructions]) + "\n"
        add_file(tar, "Dockerfile", dockerfile.encode(), 0o644)
    try:
        for line in client.api.build(fileobj=io.BytesIO(context.getvalue()), custom_context=True,
                                     tag=ref, rm=True, forcerm=True, pull=False, decode=True):
            if "error" in line:
                raise ImageBuildError(f"cannot build {ref}: {line['error'].strip()}")
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"cannot build {ref}: {exc.explanation or exc}") from None
    client.images.get(ref)


def import_rootfs(client, source, ref: str, changes: list[str]) -> None:
    repository, tag = ref.rsplit(":", 1)
    try:
        client.api.import_image(src=source, repository=repository, tag=tag, changes=changes)
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"cannot import {ref}: {exc.explanation or exc}") from None
    client.images.get(ref)


def add_file(tar: tarfile.TarFile, path: str, content: bytes, mode: int) -> None:
    info = tarfile.TarInfo(path)
    info.size = len(content)
    info.mode = mode
    tar.addfile(info, io.BytesIO(content))
