"""The lab spec's shape, declared once: validation and the JSON Schema both come from here."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from labctl.providers import REGISTRY

PROVIDERS = tuple(REGISTRY)  # the provider registry's names feed the schema
Scalar = str | int | float | bool

# Every string that reaches the Vagrantfile or an inventory is held to one of these.
_SAFE_TEXT = r"^[^\x00-\x1f\x7f]*$"  # no control characters: nothing can break a line
_REF = r"^[A-Za-z0-9._/:@+-]+$"
_WORD = r"^[A-Za-z0-9_.:/-]+$"
_LAB = r"^[a-z0-9][a-z0-9-]{0,62}$"
_PHASE = r"^[a-z0-9][a-z0-9_-]*$"
_USER = r"^[a-z_][a-z0-9_-]*$"
_HOSTS = r"^[A-Za-z0-9_:!&*.,\[\]-]+$"
_GIT = r"^[A-Za-z0-9@:/._~+-]+$"
_PYVER = r"^[23]\.[0-9]{1,2}$"
_ENV = r"^[A-Za-z_][A-Za-z0-9_]*$"
PATTERN_HELP = {
    _SAFE_TEXT: "text without control characters or line breaks",
    _REF: "a name of letters, digits and . _ / : @ + -",
    _WORD: "letters, digits and . _ : / -",
    _LAB: "lowercase letters, digits and '-', starting with a letter or digit",
    _PHASE: "lowercase letters, digits, '_' and '-'",
    _USER: "a Unix user name",
    _HOSTS: "an Ansible host pattern",
    _GIT: "a git URL (letters, digits and @ : / . _ ~ + -)",
    _PYVER: "a Python version like 2.7 or 3.9",
    _ENV: "an environment variable name",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class NodeSpec(_Strict):
    """Settings of one node; every key is optional and falls back to `defaults`."""

    box: Optional[str] = Field(None, pattern=_REF, description="Vagrant box name")
    image: Optional[str] = Field(None, pattern=_REF, description="Docker image (docker provider)")
    cpus: Optional[int] = Field(None, ge=1, le=256)
    memory: Optional[int] = Field(None, ge=128, le=4_194_304, description="MiB")
    groups: Optional[list[str]] = None
    vars: Optional[dict[str, Any]] = None
    networks: Optional[dict[str, str]] = Field(None, description="network name -> 'auto' or a fixed address")
    synced_folder: Optional[bool] = None
    host: Optional[str] = Field(None, pattern=_WORD, description="address (ssh provider)")
    port: Optional[int] = Field(None, ge=1, le=65535, description="SSH port (ssh provider)")
    user: Optional[str] = Field(None, pattern=_USER, description="SSH user (ssh provider)")
    key: Optional[str] = Field(None, pattern=_SAFE_TEXT, description="SSH private key path (ssh provider)")
    python: Optional[str] = Field(None, pattern=_PYVER, description="the Python version the box has (centos/7: 2.7); picks the Ansible runtime")


class NetworkSpec(_Strict):
    cidr: str = Field(description="IPv4 network, e.g. 192.168.50.0/24")
    start: int = Field(10, ge=1, description="host number of the first automatic address")


class GroupSpec(_Strict):
    hosts: list[str] = []
    children: list[str] = []
    vars: dict[str, Any] = {}


class _ProviderBase(_Strict):
    extra: dict[str, Scalar] = Field({}, description="more provider settings, written as `p.KEY = VALUE`")


class VirtualboxSpec(_ProviderBase):
    gui: bool = False
    linked_clone: bool = True


class LibvirtSpec(_ProviderBase):
    driver: Literal["kvm", "qemu"] = "kvm"
    cpu_mode: Optional[Literal["host-passthrough", "host-model", "custom"]] = None
    storage_pool: Optional[str] = Field(None, pattern=_WORD)
    management_network_address: Optional[str] = Field(None, pattern=_WORD)


class DockerSpec(_ProviderBase):
    privileged: bool = False


class ProvidersSpec(_Strict):
    virtualbox: VirtualboxSpec = Field(default_factory=VirtualboxSpec)
    libvirt: LibvirtSpec = Field(default_factory=LibvirtSpec)
    docker: DockerSpec = Field(default_factory=DockerSpec)


class SourceSpec(_Strict):
    git: str = Field(pattern=_GIT, description="repository URL")
    ref: str = Field(pattern=_REF, description="a tag, branch or commit: pin it")


class RuntimeSpec(_Strict):
    ansible: str = Field(pattern=_SAFE_TEXT, description="a version specifier, e.g. `>=2.9,<2.10`")
    python: list[Annotated[str, Field(pattern=_PYVER)]] = Field([], description="Pythons to build it on, in order of preference")


class PhaseSpec(_Strict):
    name: str = Field(pattern=_PHASE)
    playbook: Optional[str] = Field(None, pattern=_SAFE_TEXT, description="path, relative to the spec, ansible/ or the source")
    playbooks: Optional[list[str]] = Field(None, description="several playbooks run in order")
    source: Optional[SourceSpec] = None
    hosts: str = Field("all", pattern=_HOSTS)
    vars: dict[str, Any] = {}
    when: Optional[str] = Field(None, description="run only when this param test holds, e.g. `release >= 3.9`, `avi_controller`, `not avi_controller`")
    stage: Literal["preflight", "provision", "teardown"] = Field(
        "provision", description="preflight: on the control host before any machine exists; teardown: at `down`, before the machines go")
    always: bool = Field(False, description="run on every up/provision (phases that configure something outside the lab, such as a product API)")
    runtime: Optional[RuntimeSpec] = Field(None, description="the Ansible this phase needs; default: picked from the nodes' Pythons")


class DropSpec(_Strict):
    """`{name: X, drop: true}` removes an inherited phase or check of that name."""

    name: str = Field(pattern=_SAFE_TEXT)
    drop: Literal[True]


class _CheckBase(_Strict):
    name: Optional[str] = Field(None, pattern=_SAFE_TEXT)


class PortCheck(_CheckBase):
    node: str
    port: int = Field(ge=1, le=65535, description="open on the node (tested from inside it)")


class CommandCheck(_CheckBase):
    node: str
    command: str = Field(pattern=_SAFE_TEXT)
    expect: Optional[str] = Field(None, pattern=_SAFE_TEXT, description="a regular expression the command's output must match")


class JsonAssert(_Strict):
    path: str = Field(pattern=_SAFE_TEXT, description="dotted path into the parsed body (`results.0.name`); empty for the body itself")
    equals: Optional[Any] = Field(None, description="the value expected there")
    count: Optional[int] = Field(None, ge=0, description="the number of items expected there")


class HttpAuth(_Strict):
    user: str = Field(pattern=_SAFE_TEXT)
    password_secret: str = Field(pattern=_ENV, description="the name of a secret holding the password")


class HttpSpec(_Strict):
    url: str = Field(pattern=r"^https?://[^\s\x00-\x1f\x7f]+$")
    status: int = Field(200, ge=100, le=599)
    body: Optional[str] = Field(None, pattern=_SAFE_TEXT, description="a regular expression the body must match")
    json_: Optional[JsonAssert] = Field(None, alias="json")
    headers: dict[str, Annotated[str, Field(pattern=_SAFE_TEXT)]] = {}
    auth: Optional[HttpAuth] = None
    insecure: bool = Field(False, description="skip TLS verification (a lab's self-signed certificate)")
    ca: Optional[str] = Field(None, pattern=_SAFE_TEXT, description="a CA file to verify TLS with")
    retries: int = Field(0, ge=0, le=1000, description="tries more while the service starts")
    delay: float = Field(2.0, ge=0, le=600, description="seconds between tries")
    timeout: float = Field(10.0, gt=0, le=600)


class HttpCheck(_CheckBase):
    http: HttpSpec
    node: Optional[str] = Field(None, description="run from this node (curl over SSH); default: from the control host")


def _check_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return next(k for k in CHECK_KINDS if hasattr(value, k))
    if isinstance(value, dict):
        found = [k for k in CHECK_KINDS if k in value]
        return found[0] if len(found) == 1 else None
    return None


CheckSpec = Annotated[
    Union[Annotated[PortCheck, Tag("port")], Annotated[CommandCheck, Tag("command")], Annotated[HttpCheck, Tag("http")]],
    Discriminator(_check_kind),
]
CHECK_KINDS = ("port", "command", "http")


class SecretSpec(_Strict):
    kind: Literal["password", "htpasswd", "ssh_key"]
    user: Optional[str] = Field(None, pattern=_WORD)
    password: Optional[str] = Field(None, description="omit to generate a random one")
    from_env: Optional[str] = Field(None, pattern=_ENV, description="take the value from this environment variable when it is set")
    from_file: Optional[str] = Field(None, pattern=_SAFE_TEXT, description="take the value from this file (empty: unset)")
    generate: bool = Field(True, description="generate a value when neither from_env nor from_file gives one")


class InventorySpec(_Strict):
    format: Literal["yaml", "ini"] = "yaml"
    vars: dict[str, Any] = Field({}, description="variables for all hosts")


class AnsibleSpec(_Strict):
    strategy: Literal["mitogen_linear", "mitogen_free", "linear", "free"] = Field(
        "mitogen_linear",
        description="how Ansible runs tasks: the mitogen strategies keep one Python per host for the whole run "
        "(bench/up.py: 2.4x faster than Ansible's defaults); `linear` is Ansible's default, for playbooks mitogen cannot run",
    )


class OverlaySpec(BaseModel):
    """Spec keys laid over the lab when `when` holds (judged with the final params)."""

    model_config = ConfigDict(extra="allow", defer_build=True)
    when: str = Field(description="`PARAM OP VALUE`, `PARAM` or `not PARAM`, e.g. `release >= 3.10`")


class LabSpec(_Strict):
    """A lab: nodes, networks, provider settings, provisioning phases and checks."""

    name: str = Field(pattern=_LAB)
    description: str = Field("", pattern=_SAFE_TEXT)
    extends: Optional[str] = Field(None, description="a built-in lab name or a path to a spec")
    params: dict[str, Any] = {}
    provider: Literal[PROVIDERS] = "docker"  # type: ignore[valid-type]
    providers: ProvidersSpec = Field(default_factory=ProvidersSpec)
    defaults: NodeSpec = Field(default_factory=NodeSpec)
    networks: dict[str, NetworkSpec] = {}
    nodes: dict[str, Optional[NodeSpec]] = Field(description="node name (ranges like `node-[1:3]` expand) -> settings")
    groups: dict[str, GroupSpec] = {}
    inventory: InventorySpec = Field(default_factory=InventorySpec)
    ansible: AnsibleSpec = Field(default_factory=AnsibleSpec)
    secrets: dict[str, SecretSpec] = {}
    phases: list[PhaseSpec] = []
    checks: list[CheckSpec] = []
    notes: list[Annotated[str, Field(pattern=_SAFE_TEXT)]] = Field(
        [], description="lines `up` prints at the end: where the console is, how to log in (`${param}` works)")
    overlays: list[OverlaySpec] = Field([], description="spec fragments laid over the lab when their `when` holds, in order (consumed while loading)")


class RuntimesConfig(_Strict):
    pythons: dict[str, str] = Field({}, description="Python version -> interpreter path, e.g. {'3.6': /opt/py36/bin/python}")


def json_schema() -> dict:
    """The JSON Schema editors use to check specs (`labctl schema`)."""
    schema = LabSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "labctl lab spec"
    return schema
