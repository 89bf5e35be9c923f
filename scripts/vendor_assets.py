"""Fetch the pinned front-end libraries listed in web/static/vendor.json from the npm registry.

Each tarball's sha512 must match the integrity string the registry published for that
version, so a changed or tampered package fails the set-up instead of being served.
No Node.js is needed: the npm registry serves plain tarballs.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "web" / "static" / "vendor.json"
DEST = ROOT / "web" / "static" / "vendor"
REGISTRY = "https://registry.npmjs.org"


def fetch(name: str, version: str, integrity: str) -> bytes:
    short = name.rsplit("/", 1)[-1]
    url = f"{REGISTRY}/{name}/-/{short}-{version}.tgz"
    with urllib.request.urlopen(url, timeout=120) as resp:  # noqa: S310 - fixed https registry URL
        data: bytes = resp.read()
    algo, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if digest != expected:
        raise SystemExit(f"{name}@{version}: integrity mismatch ({algo} {digest} != {expected})")
    return data


def main() -> int:
    manifest = json.loads(MANIFEST.read_text())
    DEST.mkdir(parents=True, exist_ok=True)
    for pkg in manifest["packages"]:
        stamp = DEST / f".{pkg['name'].replace('/', '_')}@{pkg['version']}"
        if stamp.exists() and all((DEST / out).exists() for out in pkg["files"].values()):
            continue
        data = fetch(pkg["name"], pkg["version"], pkg["integrity"])
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for inner, out in pkg["files"].items():
                member = tar.extractfile(f"package/{inner}")
                if member is None:
                    raise SystemExit(f"{pkg['name']}: {inner} missing from the package")
                (DEST / out).write_bytes(member.read())
        for old in DEST.glob(f".{pkg['name'].replace('/', '_')}@*"):
            old.unlink()
        stamp.touch()
        print(f"vendored {pkg['name']}@{pkg['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
