"""The package's modules talk through public names: no module reads another
object's private attributes (``other._x``); ``self._x`` and ``cls._x`` only."""
from __future__ import annotations

import re
from pathlib import Path

import pywemix

SOURCE = Path(pywemix.__file__).parent
#: ``name._attr`` where ``name`` is not self/cls; numpy's and sys's own privates aside.
PRIVATE_READ = re.compile(r"\b(?!self\b|cls\b|np\b|_sys\b|sys\b)([A-Za-z_]\w*)\._[a-z]\w*")


def test_no_module_reads_private_attributes_of_other_objects():
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            found += [f"{path.relative_to(SOURCE)}:{number}: {m.group(0)}"
                      for m in PRIVATE_READ.finditer(code)]
    assert found == [], "private attributes read from outside their class:\n" + "\n".join(found)
