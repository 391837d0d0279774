"""Image recipes and the retagging of saved images, without an engine."""
import io
import json
import tarfile

from labapp.config import Settings
from labapp.sandbox import images, lessonimages


def _tar(files):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _read(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_retag_rewrites_manifest_repositories_and_index():
    saved = _tar({
        "manifest.json": json.dumps([
            {"Config": "a.json", "RepoTags": ["labapp/alpine:abc"], "Layers": ["l/layer.tar"]},
            {"Config": "n.json", "RepoTags": ["labapp/nginx:def"], "Layers": ["l/layer.tar", "m/layer.tar"]},
        ]).encode(),
        "repositories": json.dumps({"labapp/alpine": {"abc": "aaaa"}, "labapp/nginx": {"def": "nnnn"}}).encode(),
        "index.json": json.dumps({"manifests": [{"annotations": {
            "io.containerd.image.name": "docker.io/labapp/alpine:abc",
            "org.opencontainers.image.ref.name": "abc"}}]}).encode(),
        "l/layer.tar": b"layer-bytes",
    })
    files = _read(lessonimages.retag_saved_image(
        saved, {"labapp/alpine:abc": "alpine:latest", "labapp/nginx:def": "nginx:latest"}))
    manifest = json.loads(files["manifest.json"])
    assert [m["RepoTags"] for m in manifest] == [["alpine:latest"], ["nginx:latest"]]
    assert json.loads(files["repositories"]) == {"alpine": {"latest": "aaaa"}, "nginx": {"latest": "nnnn"}}
    notes = json.loads(files["index.json"])["manifests"][0]["annotations"]
    assert notes["io.containerd.image.name"] == "docker.io/library/alpine:latest"
    assert notes["org.opencontainers.image.ref.name"] == "latest"
    assert files["l/layer.tar"] == b"layer-bytes"


def test_nginx_is_built_on_alpine_so_the_nodes_load_one_busybox_layer():
    by_name = {img.name: img for img in images.lesson_images()}
    assert by_name["nginx"].base == "alpine" and by_name["alpine"].base is None
    names = [img.name for img in images.lesson_images()]
    assert names.index("alpine") < names.index("nginx")


def test_recipes_are_stable_and_change_with_their_inputs():
    a, b = Settings(), Settings(debian_suite="trixie")
    assert images.node_image_ref(a) == images.node_image_ref(Settings())
    assert images.node_image_ref(a) != images.node_image_ref(b)
    assert images.base_image_ref(a) != images.base_image_ref(b)
    refs = images.lesson_image_refs(a)
    assert set(refs) == {"alpine", "nginx"}
    assert refs != images.lesson_image_refs(b)  # lesson images come from the base image's busybox
    # The node image carries the lesson images and the authorization plugin: either changes it.
    assert any(p.endswith("authz/policy.py") for p, _, _ in images.node_files())
    assert images.node_recipe(a) != images.node_recipe(b)


def test_the_hardening_of_the_base_is_part_of_its_recipe(monkeypatch):
    before = images.base_recipe(Settings())
    monkeypatch.setattr(images, "NETMOVE", "usr/local/libexec/labapp/elsewhere")
    assert images.base_recipe(Settings()) != before


def test_debian_mirror_setting_wins(tmp_path):
    assert images.debian_mirror(Settings(debian_mirror="http://mirror.invalid/debian")) == \
        "http://mirror.invalid/debian"


def test_nginx_stand_in_stops_at_once_on_sigterm():
    script = dict((p, c) for p, c, _ in images.lesson_images()[1].files)["docker-entrypoint.sh"]
    assert b"trap 'exit 0' TERM" in script and b"httpd -f -p 80" in script
