"""The lab spec's shape, declared once: validation and the JSON Schema both come from here."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

PROVIDERS = ("docker", "libvirt", "virtualbox", "ssh")
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
PATTERN_HELP = {
    _SAFE_TEXT: "text without control characters or line breaks",
    _REF: "a name of letters, digits and . _ / : @ + -",
    _WORD: "letters, digits and . _ : / -",
    _LAB: "lowercase letters, digits and '-', starting with a letter or digit",
    _PHASE: "lowercase letters, digits, '_' and '-'",
    _USER: "a Unix user name",
    _HOSTS: "an Ansible host pattern",
    _GIT: "a git URL (letters, digits and @ : / . _ ~ + -)",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


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
    virtualbox: VirtualboxSpec = VirtualboxSpec()
    libvirt: LibvirtSpec = LibvirtSpec()
    docker: DockerSpec = DockerSpec()


class SourceSpec(_Strict):
    git: str = Field(pattern=_GIT, description="repository URL")
    ref: str = Field(pattern=_REF, description="a tag, branch or commit: pin it")


class PhaseSpec(_Strict):
    name: str = Field(pattern=_PHASE)
    playbook: Optional[str] = Field(None, pattern=_SAFE_TEXT, description="path, relative to the spec, ansible/ or the source")
    playbooks: Optional[list[str]] = Field(None, description="several playbooks run in order")
    source: Optional[SourceSpec] = None
    hosts: str = Field("all", pattern=_HOSTS)
    vars: dict[str, Any] = {}
    when: Optional[str] = Field(None, description="run only when this param test holds, e.g. `release >= 3.9`")


class CheckSpec(_Strict):
    name: Optional[str] = Field(None, pattern=_SAFE_TEXT)
    node: str
    port: Optional[int] = Field(None, ge=1, le=65535)
    command: Optional[str] = Field(None, pattern=_SAFE_TEXT)
    expect: Optional[str] = Field(None, pattern=_SAFE_TEXT, description="a regular expression the command's output must match")


class SecretSpec(_Strict):
    kind: Literal["password", "htpasswd"]
    user: Optional[str] = Field(None, pattern=_WORD)
    password: Optional[str] = Field(None, description="omit to generate a random one")


class InventorySpec(_Strict):
    format: Literal["yaml", "ini"] = "yaml"
    vars: dict[str, Any] = Field({}, description="variables for all hosts")


class AnsibleSpec(_Strict):
    strategy: Literal["mitogen_linear", "mitogen_free", "linear", "free"] = Field(
        "mitogen_linear",
        description="how Ansible runs tasks: the mitogen strategies keep one Python per host for the whole run "
        "(bench/up.py: 2.4x faster than Ansible's defaults); `linear` is Ansible's default, for playbooks mitogen cannot run",
    )


class LabSpec(_Strict):
    """A lab: nodes, networks, provider settings, provisioning phases and checks."""

    name: str = Field(pattern=_LAB)
    description: str = Field("", pattern=_SAFE_TEXT)
    extends: Optional[str] = Field(None, description="a built-in lab name or a path to a spec")
    params: dict[str, Scalar] = {}
    provider: Literal[PROVIDERS] = "docker"  # type: ignore[valid-type]
    providers: ProvidersSpec = ProvidersSpec()
    defaults: NodeSpec = NodeSpec()
    networks: dict[str, NetworkSpec] = {}
    nodes: dict[str, Optional[NodeSpec]] = Field(description="node name (ranges like `node-[1:3]` expand) -> settings")
    groups: dict[str, GroupSpec] = {}
    inventory: InventorySpec = InventorySpec()
    ansible: AnsibleSpec = AnsibleSpec()
    secrets: dict[str, SecretSpec] = {}
    phases: list[PhaseSpec] = []
    checks: list[CheckSpec] = []


USER_CONFIG_KEYS = ("defaults", "provider", "providers", "params", "ansible")


def json_schema() -> dict:
    """The JSON Schema editors use to check specs (`labctl schema`)."""
    schema = LabSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "labctl lab spec"
    return schema
