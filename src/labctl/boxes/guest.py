"""What every labctl box has inside: user vagrant with Vagrant's insecure key and NOPASSWD sudo."""

from __future__ import annotations

import shutil
from pathlib import Path

SCRIPT_NAME = "labctl-vagrant-user.sh"
KEY_NAME = "vagrant.pub"

VAGRANT_USER_SCRIPT = f"""\
#!/bin/sh
# Runs inside the box's root file system (docker build, or chroot for libvirt).
set -eu
id vagrant >/dev/null 2>&1 || useradd --create-home --shell /bin/bash vagrant
echo 'vagrant:vagrant' | chpasswd
install -d -m 0700 -o vagrant -g vagrant /home/vagrant/.ssh
install -m 0600 -o vagrant -g vagrant /tmp/{KEY_NAME} /home/vagrant/.ssh/authorized_keys
echo 'vagrant ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/vagrant
chmod 0440 /etc/sudoers.d/vagrant
install -d -m 0755 /run/sshd
rm -f /tmp/{KEY_NAME} /tmp/{SCRIPT_NAME}
"""


def stage(directory: Path, key: Path) -> None:
    """Put the user script and the public key into `directory` (a build context or rootfs/tmp)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / SCRIPT_NAME).write_text(VAGRANT_USER_SCRIPT)
    (directory / SCRIPT_NAME).chmod(0o755)
    shutil.copyfile(key, directory / KEY_NAME)
