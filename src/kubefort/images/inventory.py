"""Every image reference in every workload, normalised as the runtime pulls it.

References are read as the KF-IMG checks read them (`kubefort.checks.images.container_image`:
distribution/reference's `ParseNormalizedNamed`, go-digest's rules), so `nginx`,
`docker.io/library/nginx:latest` and `index.docker.io/library/nginx` are one image:

* the repository gets Docker Hub's defaults (`docker.io`, `library/` for one component) and a
  lower-case host;
* a reference with neither tag nor digest means `:latest` (the kubelet's applyDefaultImageTag);
* a digest the kubelet refuses (upper-case hex, a wrong length, `md5:`) pins nothing: the image
  is its name and tag, and the entry says why the digest does not count.

For pods that ran (cluster and snapshot input), `status.containerStatuses[].imageID` (and the
init and ephemeral lists) says what the runtime actually runs. The kubelet copies it from the CRI
`ContainerStatus.image_ref`, which is, per runtime:

* containerd and CRI-O: the image's first repo digest, `docker.io/library/nginx@sha256:...`
  (containerd's container_status.go: `imageRef = repoDigests[0]`), or the local image ID
  `sha256:...` when the image has no repo digest (built or loaded on the node);
* cri-dockerd (and the old dockershim): `docker-pullable://nginx@sha256:...`, or
  `docker://sha256:...` for an image without repo digest.

A repo digest is the manifest (or index) digest a reference pins; a bare image ID is the
digest of the image's configuration, which no reference can pin, so it is kept apart
(`local_ids`) and never compared with a pinned digest.

Pods, ReplicaSets and Jobs whose controller was read are listed under that controller (the
top of the `ownerReferences` chain with `controller: true`): a Deployment's entry lists the
digests its pods run. A ReplicaSet or Job whose controller was read adds nothing of its own
(its pods speak for it): an old revision kept for rollbacks runs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubefort.kube import imageref
from kubefort.kube.imageref import ImageRefError
from kubefort.kube.pods import ContainerView, PodView, find_pods, type_name
from kubefort.model import NotEvaluated, Path_, Resource, format_path

if TYPE_CHECKING:
    from kubefort.checks.images import ImageRef

# The image reading of the KF-IMG checks (kubefort.checks.images) is imported where it is used:
# importing it here would import every check module, and the KF-IMG scan checks import this one.

__all__ = [
    "ImageEntry",
    "InvalidImage",
    "Inventory",
    "RunningImage",
    "Workload",
    "build_inventory",
    "normalize_reference",
    "parse_image_id",
    "pod_statuses",
    "reference_key",
]

# the pod status list that reports each container list (core/v1 PodStatus)
STATUS_LISTS = {
    "containers": "containerStatuses",
    "initContainers": "initContainerStatuses",
    "ephemeralContainers": "ephemeralContainerStatuses",
}
# cri-dockerd / dockershim prefixes of imageID (pkg/kubelet/dockershim: DockerPullablePrefix, DockerImageIDPrefix)
DOCKER_PULLABLE = "docker-pullable://"
DOCKER_IMAGE_ID = "docker://"


@dataclass(frozen=True, slots=True, order=True)
class Workload:
    """A workload container that uses an image (the interface's `workloads[]` entry)."""

    kind: str
    namespace: str | None
    name: str
    container: str

    def as_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name, "container": self.container}


@dataclass(frozen=True, slots=True)
class RunningImage:
    """One pod status `imageID`, read: a registry digest (with the repository the runtime named)
    or, when `local` is true, only the node's image ID (the config digest)."""

    digest: str
    repository: str | None
    local: bool = False


def _digest_or_none(text: str) -> str | None:
    try:
        return str(imageref.parse_digest(text))
    except ImageRefError:
        return None


def parse_image_id(text: object) -> RunningImage | None:
    """The digest a pod status `imageID` names, or None when it names none (empty, unparsable)."""
    if not isinstance(text, str) or not text:
        return None
    body = text
    for prefix in (DOCKER_PULLABLE, DOCKER_IMAGE_ID):
        if body.startswith(prefix):
            body = body[len(prefix) :]
            break
    if "@" not in body:
        digest = _digest_or_none(body)
        return RunningImage(digest, None, local=True) if digest else None
    try:
        ref = imageref.parse_normalized(body)
    except ImageRefError:
        return None
    if ref.digest is None:
        return None
    from kubefort.checks.images import ImageRef, normalized_name

    return RunningImage(str(ref.digest), normalized_name(ImageRef(ref.domain or None, ref.path, None, None)))


def reference_key(ref: ImageRef) -> str:
    """The normalised reference: repository with Docker Hub's defaults, `:latest` when there is
    neither tag nor (valid) digest, the digest when there is one."""
    from kubefort.checks.images import normalized_name

    tag = ref.tag if ref.tag is not None else ("latest" if ref.digest is None else None)
    return normalized_name(ref) + (f":{tag}" if tag is not None else "") + (f"@{ref.digest}" if ref.digest else "")


def normalize_reference(text: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of a reference as the runtime resolves it; the tag is None when
    the text has none. Raises ImageRefError for text the kubelet cannot parse."""
    from kubefort.checks.images import ImageRef, normalized_name

    ref = imageref.parse_normalized(text)
    repo = normalized_name(ImageRef(ref.domain or None, ref.path, None, None))
    return repo, ref.tag, str(ref.digest) if ref.digest else None


@dataclass(slots=True)
class ImageEntry:
    """One normalised image reference and everything known about where it runs."""

    image: str
    repository: str
    tag: str | None  # the tag pulled (`latest` when the reference has neither tag nor digest)
    digest: str | None  # the digest the reference pins (None: pulled by tag)
    written: set[str] = field(default_factory=set)  # the references as written in the specs
    bad_digests: dict[str, str] = field(default_factory=dict)  # written reference -> why its digest pins nothing
    workloads: set[Workload] = field(default_factory=set)
    running: dict[str, set[str]] = field(default_factory=dict)  # registry digest -> pods ("ns/name")
    local_ids: dict[str, set[str]] = field(default_factory=dict)  # node image IDs -> pods
    pods_without_status: set[str] = field(default_factory=set)

    @property
    def pinned(self) -> bool:
        return self.digest is not None

    @property
    def namespaces(self) -> list[str]:
        return sorted({w.namespace for w in self.workloads if w.namespace is not None})

    def findings(self) -> list[str]:
        """What the running digests show: a tag that runs several digests, a pinned digest not run."""
        out: list[str] = []
        if self.digest is None and len(self.running) > 1:
            out.append(
                f"the tag {self.tag!r} runs {len(self.running)} different digests: it was moved while pods kept "
                f"the old image ({', '.join(sorted(self.running))})"
            )
        if self.digest is not None:
            other = sorted(d for d in self.running if d != self.digest)
            if other:
                out.append(f"the reference pins {self.digest} but pods report {', '.join(other)}")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
            "reference": "digest" if self.pinned else "tag",
            "written": sorted(self.written),
            "bad_digests": [{"written": t, "reason": r} for t, r in sorted(self.bad_digests.items())],
            "workloads": [w.as_dict() for w in sorted(self.workloads, key=_workload_order)],
            "namespaces": self.namespaces,
            "running": [{"digest": d, "pods": len(p)} for d, p in sorted(self.running.items())],
            "local_image_ids": [{"id": d, "pods": len(p)} for d, p in sorted(self.local_ids.items())],
            "findings": self.findings(),
        }


@dataclass(slots=True)
class InvalidImage:
    """An `image` the kubelet cannot pull (a template placeholder, a typo): listed, never normalised."""

    text: str
    reason: str
    workloads: set[Workload] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {
            "image": self.text,
            "error": self.reason,
            "workloads": [w.as_dict() for w in sorted(self.workloads, key=_workload_order)],
        }


def _workload_order(w: Workload) -> tuple[str, str, str, str]:
    return (w.namespace or "", w.kind, w.name, w.container)


@dataclass(slots=True)
class Inventory:
    images: dict[str, ImageEntry] = field(default_factory=dict)
    invalid: dict[str, InvalidImage] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # objects whose pod specs could not be read
    statuses_read: int = 0  # container statuses with an imageID

    def sorted_images(self) -> list[ImageEntry]:
        return [self.images[k] for k in sorted(self.images)]


# ------------------------------------------------------------------------------- building
def _uid(res: Resource) -> str | None:
    meta = res.obj.get("metadata")
    uid = meta.get("uid") if isinstance(meta, dict) else None
    return uid if isinstance(uid, str) and uid else None


def _controller_uid(res: Resource) -> str | None:
    meta = res.obj.get("metadata")
    refs = meta.get("ownerReferences") if isinstance(meta, dict) else None
    if isinstance(refs, list):
        for r in refs:
            if isinstance(r, dict) and r.get("controller") is True and isinstance(r.get("uid"), str):
                return str(r["uid"])
    return None


def _owners(resources: Sequence[Resource]) -> tuple[dict[str, Resource], dict[int, Resource]]:
    """uid -> object, and for each object whose controller was read, the top of its chain."""
    by_uid = {u: r for r in resources if (u := _uid(r)) is not None}
    top: dict[int, Resource] = {}
    for r in resources:
        cur, seen = r, set()
        while (owner := by_uid.get(_controller_uid(cur) or "")) is not None and id(owner) not in seen:
            seen.add(id(owner))
            cur = owner
        if cur is not r:
            top[id(r)] = cur
    return by_uid, top


def pod_statuses(res: Resource) -> dict[tuple[str, str], str | None] | None:
    """(container list, container name) -> imageID of a Pod's status; None when it has no status
    lists. Read as the API server decodes a Pod: `status` and each list absent or null is empty,
    `imageID` absent or null is unset; any other type (a status the API server would refuse)
    raises NotEvaluated with its path."""
    if res.id.kind != "Pod":
        return None
    status = res.obj.get("status")
    if status is None:
        return None
    if not isinstance(status, dict):
        raise NotEvaluated(f"status is {type_name(status)}, expected a mapping", ("status",))
    out: dict[tuple[str, str], str | None] = {}
    found = False
    for list_key, status_key in STATUS_LISTS.items():
        items = status.get(status_key)
        if items is None:
            continue
        path: Path_ = ("status", status_key)
        if not isinstance(items, list):
            raise NotEvaluated(f"{format_path(path)} is {type_name(items)}, expected a list", path)
        found = True
        for i, s in enumerate(items):
            if not isinstance(s, dict):
                raise NotEvaluated(f"{format_path(path + (i,))} is {type_name(s)}, expected a mapping", path + (i,))
            name, image_id = s.get("name"), s.get("imageID")
            if not isinstance(name, str):
                p = path + (i, "name")
                raise NotEvaluated(f"{format_path(p)} is {type_name(name)}, expected a string", p)
            if image_id is not None and not isinstance(image_id, str):
                p = path + (i, "imageID")
                raise NotEvaluated(f"{format_path(p)} is {type_name(image_id)}, expected a string", p)
            out[(list_key, name)] = image_id
    return out if found else None


def _pod_key(res: Resource) -> str:
    return f"{res.id.namespace}/{res.id.name}" if res.id.namespace else res.id.name


def build_inventory(
    resources: Iterable[Resource], pod_template_paths: Mapping[str, Sequence[Path_]] | None = None
) -> Inventory:
    """The inventory of every image reference the objects carry (containers, init and ephemeral
    containers, pod templates of any kind, CRDs included)."""
    resources = list(resources)
    _, top = _owners(resources)
    inv = Inventory()
    for res in resources:
        owner = top.get(id(res))
        if owner is not None and res.id.kind != "Pod":
            continue  # a ReplicaSet or Job of a controller that was read: its pods speak for it
        try:
            pods = find_pods(res, pod_template_paths)
        except NotEvaluated as exc:
            inv.problems.append(f"{res.id}: {exc.reason}")
            continue
        shown = owner or res
        try:
            statuses = pod_statuses(res)
        except NotEvaluated as exc:  # its running digests are unknown; its references still count
            inv.problems.append(f"{res.id}: {exc.reason}")
            statuses = None
        for pod in pods:
            _add_pod(inv, pod, shown, res, statuses)
    return inv


def _add_pod(
    inv: Inventory, pod: PodView, shown: Resource, res: Resource, statuses: dict[tuple[str, str], str | None] | None
) -> None:
    try:
        containers = list(pod.containers())
    except NotEvaluated as exc:
        inv.problems.append(f"{res.id}: {exc.reason}")
        return
    for c in containers:
        _add_container(inv, c, shown, res, statuses)


def _add_container(
    inv: Inventory, c: ContainerView, shown: Resource, res: Resource, statuses: dict[tuple[str, str], str | None] | None
) -> None:
    from kubefort.checks.images import container_image, normalized_name

    use = Workload(shown.id.kind, shown.id.namespace, shown.id.name, c.name)
    try:
        image = container_image(c)
    except NotEvaluated as exc:
        text = c.data.get("image")
        if isinstance(text, str):
            bad = inv.invalid.get(text)
            if bad is None:
                bad = inv.invalid[text] = InvalidImage(text, exc.reason.split(": ", 1)[-1])
            bad.workloads.add(use)
        else:
            inv.problems.append(f"{res.id}: {exc.reason}")
        return
    if image is None:  # an ephemeral container without image
        return
    key = reference_key(image.ref)
    entry = inv.images.get(key)
    if entry is None:
        tag = image.ref.tag if image.ref.tag is not None else ("latest" if image.ref.digest is None else None)
        entry = inv.images[key] = ImageEntry(key, normalized_name(image.ref), tag, image.ref.digest)
    entry.written.add(image.text)
    if image.bad_digest is not None:
        entry.bad_digests[image.text] = image.bad_digest
    entry.workloads.add(use)
    if statuses is None:
        return
    pod = _pod_key(res)
    running = parse_image_id(statuses.get((c.list_key, c.name)))
    if running is None:
        entry.pods_without_status.add(pod)  # not started yet (waiting for its image), or no ID reported
        return
    inv.statuses_read += 1
    (entry.local_ids if running.local else entry.running).setdefault(running.digest, set()).add(pod)
