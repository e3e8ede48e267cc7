"""The committed reference values (tests/reference) are intact, complete, and
agree with the second copy (../shared/reference or $PYWEMIX_REFERENCE) when
that is there."""

from __future__ import annotations

import hashlib
import json

from conftest import REFERENCE, SECOND_REFERENCE

FOLDERS = ("data", "expected")


def _files(root):
    return {
        f"{d}/{p.name}": p for d in FOLDERS for p in sorted((root / d).glob("*")) if p.is_file()
    }


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _checksums():
    sums = {}
    for line in (REFERENCE / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.lstrip("*")] = digest
    return sums


def _check_against_sums(root, sums):
    files = _files(root)
    assert set(files) == set(sums), (
        f"{root}: not in tests/reference/SHA256SUMS: {sorted(set(files) - set(sums))}; "
        f"listed there but missing: {sorted(set(sums) - set(files))}"
    )
    changed = [name for name, path in files.items() if _sha256(path) != sums[name]]
    assert not changed, f"{root}: files differ from tests/reference/SHA256SUMS: {changed}"


def test_reference_files_match_their_checksums():
    """Every file of tests/reference/{data,expected} is listed in SHA256SUMS
    with its checksum: reference numbers change only on purpose (copy the new
    file in, then ``sha256sum data/* expected/* > SHA256SUMS`` in
    tests/reference).

    Where a second copy exists (../shared/reference, the project's
    specification, or $PYWEMIX_REFERENCE), it must hold the same files with
    the same checksums: the second source is used only if it agrees. A clean
    clone without it reads the committed files alone.
    """
    sums = _checksums()
    _check_against_sums(REFERENCE, sums)
    if (SECOND_REFERENCE / "expected").is_dir():
        _check_against_sums(SECOND_REFERENCE, sums)


def test_every_case_names_committed_data_and_a_call():
    cases = sorted((REFERENCE / "expected").glob("*.json"))
    assert len(cases) >= 22
    for path in cases:
        exp = json.loads(path.read_text())
        assert exp["name"] == path.stem
        assert (REFERENCE / "data" / exp["data"]).is_file(), (path.name, exp["data"])
        assert {"formula", "weights", "cond_weights", "family"} <= set(exp["call"]), path.name
        assert exp["params"], path.name
