"""JUnit XML for `labctl test`: one test case per lifecycle step and per check."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from labctl.fsutil import write_atomic


@dataclass(frozen=True)
class Case:
    name: str
    seconds: float
    failure: str | None = None


def write(path: Path, suite: str, cases: list[Case]) -> None:
    root = ET.Element("testsuite", name=suite, tests=str(len(cases)),
                      failures=str(sum(1 for c in cases if c.failure)), time=f"{sum(c.seconds for c in cases):.3f}")
    for case in cases:
        element = ET.SubElement(root, "testcase", classname=suite, name=case.name, time=f"{case.seconds:.3f}")
        if case.failure:
            ET.SubElement(element, "failure", message=case.failure.splitlines()[0][:200]).text = case.failure
    ET.indent(root)
    write_atomic(path, ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n")
