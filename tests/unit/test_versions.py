"""HCL's restore rules (versions.restore_decision) and interim-fix detection from installed.xml."""
from __future__ import annotations

import os
import re

import pytest

from cnxbackup.errors import PreflightError
from cnxbackup.versions import (
    ConnectionsVersion,
    detect_interim_fixes,
    read_installed_fixes,
    read_installed_xml,
    read_was_product,
    restore_decision,
)


def V(raw, *fixes):
    return ConnectionsVersion(raw=raw, interim_fixes=list(fixes))


def test_same_exact_version_allows_everything():
    assert restore_decision(V("8.0.0.0_CR14", "IF1"), V("8.0.0.0_CR14", "IF1"))[:2] == (True, True)


@pytest.mark.parametrize("backup, current", [("7.0.0.0_CR5", "8.0.0.0_CR1"), ("6.5.0.0_CR1", "7.0.0.0")])
def test_later_release_refused(backup, current):
    allowed, provision, reason = restore_decision(V(backup), V(current))
    assert (allowed, provision) == (False, False) and "later release" in reason


def test_different_major_minor_refused():
    allowed, _, reason = restore_decision(V("8.0.0.0_CR2"), V("7.0.0.0_CR5"))
    assert not allowed and "different" in reason and "8.0" in reason and "7.0" in reason


def test_6_0_cr6_and_later_count_as_6_5():
    assert V("6.0.0.0_CR6").release_line == "6.5" and V("6.0.0.0_CR7").release_line == "6.5"
    assert V("6.0.0.0_CR5").release_line == "6.0"
    allowed, provision, _ = restore_decision(V("6.0.0.0_CR6"), V("6.5.0.0_CR1"))
    assert allowed and not provision
    allowed, _, reason = restore_decision(V("6.0.0.0_CR5"), V("6.5.0.0_CR1"))
    assert not allowed and "later release" in reason


@pytest.mark.parametrize("current", [V("8.0.0.0_CR13"), V("8.0.0.0_CR14", "IF2"), V("8.0.0.0_CR14")])
def test_provision_only_on_exact_version(current):
    allowed, provision, reason = restore_decision(V("8.0.0.0_CR14", "IF1"), current)
    assert allowed and not provision and "exact same version" in reason


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


XML = """<?xml version='1.0' encoding='UTF-8'?>
<installInfo>
  <location id='WAS' path='{was}'>
    <package id='com.ibm.websphere.ND.v90' version='9.0.5014'/>
    <fix id='9.0.5.14-WS-WAS-IFPH1' offering='com.ibm.websphere.ND.v90' version='1.0.0'/>
  </location>
  <location id='HCL Connections' path='{cnx}'>
    <package id='com.ibm.connections' version='8.0.0.0_CR14'/>
    <fix id='8.0.0.0-HCL-IC-Multi-IFLO1' offering='com.ibm.connections' version='1.0.0'/>
    <fix id='8.0.0.0-HCL-IC-IFLO2'/>
  </location>
</installInfo>
"""


def test_interim_fixes_from_installed_xml_and_version_folder(tmp_path):
    root = str(tmp_path)
    cnx = f"{root}/opt/IBM/Connections"
    xml = f"{root}/var/ibm/InstallationManager/installed.xml"
    _write(xml, XML.format(was=f"{root}/opt/IBM/WebSphere", cnx=cnx))
    _write(f"{cnx}/version/LO3.efix", "")
    assert read_installed_fixes(xml) == ["8.0.0.0-HCL-IC-IFLO2", "8.0.0.0-HCL-IC-Multi-IFLO1"]
    assert detect_interim_fixes(cnx, xml) == ["8.0.0.0-HCL-IC-IFLO2", "8.0.0.0-HCL-IC-Multi-IFLO1", "LO3"]
    # without the path: the usual place under the tree's prefix, only if it describes this connections_root
    assert detect_interim_fixes(cnx) == ["8.0.0.0-HCL-IC-IFLO2", "8.0.0.0-HCL-IC-Multi-IFLO1", "LO3"]
    _write(xml, XML.format(was=f"{root}/opt/IBM/WebSphere", cnx="/elsewhere/Connections"))
    assert detect_interim_fixes(cnx) == ["LO3"]
    assert read_installed_fixes(f"{root}/missing.xml") == []


@pytest.mark.timeout(20)  # a FIFO opened blocking would hang: the timeout makes that a failure
def test_a_fifo_or_folder_as_installed_xml_or_was_product_is_refused_naming_it_without_hanging(tmp_path) -> None:
    installed = tmp_path / "installed.xml"
    os.mkfifo(installed)
    with pytest.raises(PreflightError, match=re.escape(f"{installed}: not a regular file")):
        read_installed_xml(str(installed))
    assert read_installed_fixes(str(installed)) == []
    product = tmp_path / "was" / "properties" / "version" / "WAS.product"
    product.parent.mkdir(parents=True)
    os.mkfifo(product)
    assert read_was_product(str(tmp_path / "was")) is None
    os.unlink(product)
    product.mkdir()
    assert read_was_product(str(tmp_path / "was")) is None


def test_installed_xml_reached_through_a_symlink_is_still_read(tmp_path) -> None:
    real = tmp_path / "real.xml"
    real.write_text('<installed><location path="/opt/IBM/Connections">'
                    '<package id="com.ibm.connections" version="8.0.0.0_CR14"/>'
                    '<fix id="LO1" offering="com.ibm.connections"/></location></installed>')
    (tmp_path / "installed.xml").symlink_to(real)
    assert read_installed_xml(str(tmp_path / "installed.xml")) == ("8.0.0.0_CR14", None)
    assert read_installed_fixes(str(tmp_path / "installed.xml")) == ["LO1"]
