"""Deterministic sample trees: a fake Connections/WebSphere deployment and a benchmark tree.

Content comes from two seeded pools (incompressible random bytes, compressible
XML-ish text) sliced at random offsets, so generation runs at disk speed and the
same seed always gives the same bytes. Pools are larger than zstd's level-3
window, so slices do not compress against each other more than real data would.

Demo deployment facts worth knowing (tests and discovery code rely on them):
- ``var/ibm/InstallationManager/installed.xml`` uses single-quoted attributes:
  ``<location id='...' path='...'>`` holding ``<package id='com.ibm.connections' ... version='V'>``
  and ``<package id='com.ibm.websphere.ND.v90' ... version='8.x'>``. Interim fixes are
  recorded in the same file as ``<fix id='...' offering='<package id>' version='...'/>``
  children of their ``<location>`` (real element names are UNCONFIRMED, see connections.md §4.1).
- ``etc/.ibm/registry/InstallationManager.dat`` has ``location=<IM root>``; the IM
  ``eclipse/configuration/config.ini`` has ``cic.appDataLocation=<agent data>``.
- WAS variables (CONNECTIONS_CUSTOMIZATION_PATH, FILES_CONTENT_DIR, ...) are in the
  cell's ``variables.xml``; the ``filenetAdmin`` J2C alias is in the cell's ``security.xml``.
"""
from __future__ import annotations

import os
import random
import uuid
from typing import Any, Dict, List, Optional

_WORDS = (
    "websphere connections profile cell node server config security alias deployment "
    "application module community wiki blog activity forum files search index homepage "
    "metrics news dogear bookmark widget template customization header footer jsp html css "
    "xml property value name id version resource provider datasource jdbc db2 oracle "
    "mssql filenet content engine object store storage area user group role mapping"
).split()


class _Pools:
    """Seeded byte pools; ``random_bytes``/``text_bytes`` return slices of them."""

    def __init__(self, rng: random.Random, random_size: int, text_size: int) -> None:
        self.rng = rng
        self.random_pool = b"".join(rng.randbytes(1 << 20) for _ in range(max(1, random_size >> 20)))
        words: List[str] = []
        size = 0
        while size < text_size:
            line = " ".join(rng.choices(_WORDS, k=12))
            tag = rng.choice(_WORDS)
            piece = f'  <{tag} name="{rng.choice(_WORDS)}{rng.randrange(1000)}">{line}</{tag}>\n'
            words.append(piece)
            size += len(piece)
        self.text_pool = "".join(words).encode("ascii")

    def _slice(self, pool: bytes, n: int) -> bytes:
        if n <= 0:
            return b""
        out = []
        while n > 0:
            start = self.rng.randrange(len(pool))
            piece = pool[start:start + n]
            out.append(piece)
            n -= len(piece)
        return b"".join(out)

    def random_bytes(self, n: int) -> bytes:
        return self._slice(self.random_pool, n)

    def text_bytes(self, n: int) -> bytes:
        return self._slice(self.text_pool, n)


def _write(path: str, data: bytes, mode: int = 0o644) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(data)
    os.chmod(path, mode)
    return path


def _text(path: str, text: str, mode: int = 0o644) -> str:
    return _write(path, text.encode("utf-8"), mode)


def _symlink(target: str, link: str) -> None:
    os.makedirs(os.path.dirname(link), exist_ok=True)
    os.symlink(target, link)


def _count(base: int, scale: float) -> int:
    return max(1, int(round(base * scale)))


# --------------------------------------------------------------------------- demo deployment


def _was_product(was_version: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE product PUBLIC "productId" "product.dtd">\n'
        '<product name="IBM WebSphere Application Server - ND">\n'
        "   <id>ND</id>\n"
        f"   <version>{was_version}</version>\n"
        '   <build-info date="9/20/22" level="cf142238.02"/>\n'
        "</product>\n"
    )


def _profile_registry(was_root: str, profiles: Dict[str, str]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?><profiles>']
    for index, (name, template) in enumerate(profiles.items()):
        lines.append(
            f'    <profile isAReservedProfile="false" isDefault="{str(index == 0).lower()}" name="{name}" '
            f'path="{was_root}/profiles/{name}" template="{was_root}/profileTemplates/{template}"/>'
        )
    lines.append("</profiles>")
    return "\n".join(lines) + "\n"


def _security_xml(filenet_user: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<security:Security xmi:version="2.0" xmlns:xmi="http://www.omg.org/XMI" '
        'xmlns:security="http://www.ibm.com/websphere/appserver/schemas/5.0/security.xmi" '
        'xmi:id="Security_1" enabled="true" appEnabled="true">\n'
        '  <authDataEntries xmi:id="JAASAuthData_1529550601223" alias="connectionsAdmin" '
        'userId="wasadmin" password="{xor}Lz4sLCgwLTs=" description=""/>\n'
        '  <authDataEntries xmi:id="JAASAuthData_1529550601224" alias="filenetAdmin" '
        f'userId="{filenet_user}" password="{{xor}}Lz4sLCgwLTs=" description=""/>\n'
        '  <authDataEntries xmi:id="JAASAuthData_1529550601225" alias="CellNode01/dbadmin" '
        'userId="db2inst1" password="{xor}Lz4sLCgwLTs=" description=""/>\n'
        "</security:Security>\n"
    )


def _file_registry(users: List[str]) -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<sdo:datagraph xmlns:sdo="commonj.sdo" xmlns:wim="http://www.ibm.com/websphere/wim">',
        "  <wim:Root>",
    ]
    for user in users:
        ident = uuid.uuid5(uuid.NAMESPACE_DNS, user).hex
        out += [
            '    <wim:entities xsi:type="wim:PersonAccount">',
            f'      <wim:identifier externalId="{ident}" externalName="uid={user},o=defaultWIMFileBasedRealm"',
            f'          uniqueId="{ident}" uniqueName="uid={user},o=defaultWIMFileBasedRealm"/>',
            '      <wim:parent><wim:identifier uniqueName="o=defaultWIMFileBasedRealm"/></wim:parent>',
            f"      <wim:uid>{user}</wim:uid> <wim:cn>{user}</wim:cn> <wim:sn>{user}</wim:sn>",
            "    </wim:entities>",
        ]
    out += ["  </wim:Root>", "</sdo:datagraph>"]
    return "\n".join(out) + "\n"


# The JDBC providers and data sources of the cell, as WebSphere writes them in
# cells/<cell>/resources.xml (an xmi:XMI document; one DataSource factory per database)
_DATA_SOURCES = (("activities", "OPNACT"), ("blogs", "BLOGS"), ("files", "FILES"), ("homepage", "HOMEPAGE"),
                 ("profiles", "PEOPLEDB"), ("wikis", "WIKIS"))


def _resources_xml(host: str = "db2.example.com", port: int = 50000) -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<xmi:XMI xmi:version="2.0" xmlns:xmi="http://www.omg.org/XMI" '
        'xmlns:resources.jdbc="http://www.ibm.com/websphere/appserver/schemas/5.0/resources.jdbc.xmi">',
        '  <resources.jdbc:JDBCProvider xmi:id="JDBCProvider_1" name="DB2 Universal JDBC Driver Provider" '
        'description="DB2 Universal JDBC Driver Provider" providerType="DB2 Universal JDBC Driver Provider" '
        'implementationClassName="com.ibm.db2.jcc.DB2ConnectionPoolDataSource" xa="false">',
        "    <classpath>${DB2UNIVERSAL_JDBC_DRIVER_PATH}/db2jcc4.jar</classpath>",
    ]
    for index, (name, database) in enumerate(_DATA_SOURCES, 1):
        out += [
            f'    <factories xmi:type="resources.jdbc:DataSource" xmi:id="DataSource_{index}" name="{name}" '
            f'jndiName="jdbc/{name}" authDataAlias="connectionsAdmin" statementCacheSize="100">',
            f'      <propertySet xmi:id="J2EEResourcePropertySet_{index}">',
            f'        <resourceProperties xmi:id="P_{index}_1" name="databaseName" type="java.lang.String" value="{database}"/>',
            f'        <resourceProperties xmi:id="P_{index}_2" name="serverName" type="java.lang.String" value="{host}"/>',
            f'        <resourceProperties xmi:id="P_{index}_3" name="portNumber" type="java.lang.Integer" value="{port}"/>',
            f'        <resourceProperties xmi:id="P_{index}_4" name="driverType" type="java.lang.Integer" value="4"/>',
            "      </propertySet>",
            "    </factories>",
        ]
    out += ["  </resources.jdbc:JDBCProvider>", "</xmi:XMI>"]
    return "\n".join(out) + "\n"


def _profile_script(script: str) -> str:
    """A demo profile's ``bin/<script>.sh``: the mock cell's profile tool, for this profile."""
    return ("#!/bin/sh\n"
            f"# Demo stand-in for WebSphere's <profile>/bin/{script}.sh (see demo/profile_tool.py).\n"
            'profile="$(cd "$(dirname "$0")/.." && pwd)"\n'
            f'exec "${{CNXMOCK_PYTHON:-python3}}" '
            f'"${{CNXMOCK_PROFILE_TOOL:?{script}.sh of the demo needs the mock cell (CNXMOCK_PROFILE_TOOL)}}" '
            f'{script} "$profile" "$@"\n')


def _variables_xml(variables: Dict[str, str]) -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<variables:VariableMap xmi:version="2.0" xmlns:xmi="http://www.omg.org/XMI" '
        'xmlns:variables="http://www.ibm.com/websphere/appserver/schemas/5.0/variables.xmi" xmi:id="VariableMap_1">',
    ]
    for index, (name, value) in enumerate(sorted(variables.items())):
        out.append(
            f'  <entries xmi:id="VariableSubstitutionEntry_{1000 + index}" symbolicName="{name}" value="{value}"/>'
        )
    out.append("</variables:VariableMap>")
    return "\n".join(out) + "\n"


def _installed_xml(locations: List[Dict[str, Any]]) -> str:
    out = ["<?xml version='1.0' encoding='UTF-8'?>", "<installInfo>"]
    for loc in locations:
        out.append(f"  <location id='{loc['id']}' kind='product' path='{loc['path']}'>")
        for pkg in loc["packages"]:
            out.append(
                f"    <package id='{pkg['id']}' name='{pkg['name']}' version='{pkg['version']}'"
                f" profile='{loc['id']}' installDate='2024-03-01T10:00:00.000Z'>"
            )
            out.append(f"      <property name='installLocation' value='{loc['path']}'/>")
            out.append("    </package>")
        for fix in loc.get("fixes", []):
            out.append(f"    <fix id='{fix['id']}' offering='{fix['offering']}' version='{fix['version']}'/>")
        out.append("  </location>")
    out.append("</installInfo>")
    return "\n".join(out) + "\n"


def build_demo_deployment(
    root: str,
    *,
    scale: float = 1.0,
    connections_version: str = "8.0.0.0_CR14",
    was_version: str = "9.0.5.14",
    ccm: bool = True,
    filebased_filenet_admin: bool = False,
    seed: int = 1,
    cell: str = "ConnectionsCell",
) -> Dict[str, object]:
    """Create a fake Connections deployment under ``root`` and return its important paths.

    scale 1.0 gives roughly 300 MB in ~5,000 files; tests use ~0.02 (a few MB).
    With ``filebased_filenet_admin`` the filenetAdmin J2C user is a fileRegistry.xml user.
    """
    rng = random.Random(seed)
    pool_size = min(32 << 20, max(1 << 20, int(48 * scale) << 20))
    pools = _Pools(rng, pool_size, max(1 << 19, pool_size // 4))
    root = os.path.abspath(root)
    node, dmgr_node = "ConnectionsNode01", "ConnectionsCellManager01"
    was = f"{root}/opt/IBM/WebSphere/AppServer"
    cnx = f"{root}/opt/IBM/Connections"
    shared, local = f"{cnx}/data/shared", f"{cnx}/data/local"
    im_install, im_data = f"{root}/opt/IBM/InstallationManager", f"{root}/var/ibm/InstallationManager"
    im_shared = f"{root}/opt/IBM/IMShared"
    dmgr, app = f"{was}/profiles/Dmgr01", f"{was}/profiles/AppSrv01"
    apps = ["Activities", "Blogs", "Common", "Communities", "Files", "Homepage", "News", "Profiles", "Search", "Wikis"]
    if ccm:
        apps += ["FileNetEngine", "navigator"]

    def binary(path: str, low: int, high: int, mode: int = 0o644) -> str:
        return _write(path, pools.random_bytes(int(rng.randint(low, high) * max(scale, 0.05))), mode)

    def text(path: str, low: int, high: int, mode: int = 0o644, header: str = "") -> str:
        body = pools.text_bytes(int(rng.randint(low, high) * max(scale, 0.05)))
        return _write(path, header.encode() + body, mode)

    # --- WebSphere binaries
    for script in ("wsadmin.sh", "startManager.sh", "stopManager.sh", "versionInfo.sh", "setupCmdLine.sh"):
        _text(f"{was}/bin/{script}", f"#!/bin/sh\n# {script}\nexec java \"$@\"\n", 0o755)
    for index in range(_count(60, scale)):
        binary(f"{was}/plugins/com.ibm.ws.plugin{index:03d}.jar", 20_000, 400_000)
    binary(f"{was}/java/8.0/bin/java", 50_000, 200_000, 0o755)
    _symlink(f"{was}/java/8.0", f"{was}/java/default")  # absolute, within the tree
    os.link(f"{was}/plugins/com.ibm.ws.plugin000.jar", f"{was}/plugins/com.ibm.ws.runtime.jar")
    profile_registry = _text(f"{was}/properties/profileRegistry.xml",
                             _profile_registry(was, {"Dmgr01": "management", "AppSrv01": "default"}))
    was_product = _text(f"{was}/properties/version/WAS.product", _was_product(was_version))
    _text(f"{was}/properties/version/dtd/product.dtd", "<!ELEMENT product (id, version, build-info)>\n")

    # --- profiles
    filenet_user = "fnadmin" if filebased_filenet_admin else "filenet.admin"
    file_users = ["wasadmin", "fnadmin"] if filebased_filenet_admin else ["wasadmin"]
    variables = {
        "CONNECTIONS_CUSTOMIZATION_PATH": f"{shared}/customization",
        "CONNECTIONS_CONFIGURATION_PATH": f"{shared}/configuration",
        "MESSAGE_STORE_PATH": shared,
        "FILES_CONTENT_DIR": f"{shared}/files",
        "WIKIS_CONTENT_DIR": f"{shared}/wikis",
        "ACTIVITIES_CONTENT_DIR": f"{shared}/activities/content",
        "SEARCH_INDEX_DIR": f"{local}/search/index",
        "CONNECTIONS_PROVISION_PATH": f"{shared}/provision",
    }
    for profile in (dmgr, app):
        cell_dir = f"{profile}/config/cells/{cell}"
        _text(f"{cell_dir}/security.xml", _security_xml(filenet_user), 0o600)
        _text(f"{cell_dir}/fileRegistry.xml", _file_registry(file_users), 0o600)
        _text(f"{cell_dir}/variables.xml", _variables_xml(variables), 0o640)
        _text(f"{cell_dir}/resources.xml", _resources_xml(), 0o640)
        lcc = f"{cell_dir}/LotusConnections-config"
        for name in ("LotusConnections-config.xml", "files-config.xml", "wikis-config.xml", "profiles-config.xml",
                     "profiles-policy.xml", "search-config.xml", "service-location.xsd"):
            text(f"{lcc}/{name}", 5_000, 60_000, 0o640, header='<?xml version="1.0" encoding="UTF-8"?>\n')
        text(f"{lcc}/notifications/resources/nts_activities.ftl", 2_000, 10_000, 0o640)
        text(f"{lcc}/opensocial-proxy-rules.xml", 1_000, 5_000, 0o640)
        for name in apps:
            text(f"{cell_dir}/applications/{name}.ear/deployments/{name}/deployment.xml", 2_000, 20_000, 0o640)
        text(f"{cell_dir}/nodes/{node}/servers/server1/server.xml", 10_000, 40_000, 0o640)
        text(f"{cell_dir}/nodes/{dmgr_node}/serverindex.xml", 2_000, 8_000, 0o640)
        _text(f"{profile}/bin/setupCmdLine.sh", f"#!/bin/sh\nWAS_HOME={was}\nUSER_INSTALL_ROOT={profile}\n", 0o755)
        scripts = ("startManager", "stopManager", "serverStatus") if profile == dmgr else \
            ("startNode", "stopNode", "syncNode", "serverStatus")
        for script in scripts:
            _text(f"{profile}/bin/{script}.sh", _profile_script(script), 0o755)
        _symlink("../../../bin/wsadmin.sh", f"{profile}/bin/wsadmin.sh")  # relative
        _text(f"{profile}/properties/soap.client.props", "com.ibm.SOAP.requestTimeout=180\n", 0o640)
        for log in range(_count(8, scale)):
            text(f"{profile}/logs/server{log % 2 + 1}/SystemOut_{log:02d}.log", 20_000, 300_000)
    for name in apps:
        for index in range(_count(4, scale)):
            binary(f"{app}/installedApps/{cell}/{name}.ear/lib/{name.lower()}-{index}.jar", 20_000, 500_000)
        text(f"{app}/installedApps/{cell}/{name}.ear/{name.lower()}.war/WEB-INF/web.xml", 2_000, 20_000)

    # --- Connections install root
    _text(f"{cnx}/version/log/install.log", f"HCL Connections {connections_version} installed\n")
    _text(f"{cnx}/updateInstaller/updateSilent.sh", "#!/bin/sh\necho 'Fix name: none'\n", 0o755)
    binary(f"{cnx}/updateInstaller/lib/updateinstaller.jar", 50_000, 300_000)
    engine_ws_ear: Optional[str] = None
    ccm_storage: Optional[str] = None
    if ccm:
        engine_ws_ear = binary(f"{cnx}/FileNet/ContentEngine/tools/configure/profiles/CCM/ear/Engine-ws.ear",
                               500_000, 2_000_000)
        text(f"{cnx}/FileNet/ContentEngine/tools/configure/profiles/CCM/configurebootstrap.xml", 2_000, 8_000, 0o640)
        binary(f"{cnx}/FileNet/CEClient/lib/Jace.jar", 200_000, 800_000)
        binary(f"{cnx}/FNCS/navigator.ear", 200_000, 800_000)
    for index in range(_count(30, scale)):
        text(f"{cnx}/{rng.choice(apps).lower()}/lib/readme{index}.txt", 1_000, 20_000)

    # --- shared data
    customization = f"{shared}/customization"
    text(f"{customization}/common/nav/templates/header.jsp", 2_000, 10_000)
    text(f"{customization}/common/nav/templates/footer.jsp", 2_000, 10_000)
    text(f"{customization}/common/nav/templates/my header (copy).jsp", 1_000, 5_000)
    text(f"{customization}/strings/com.ibm.lconn.core.strings_de_Übersetzung.properties", 1_000, 5_000)
    text(f"{customization}/javascript/custom.js", 1_000, 5_000)
    text(f"{shared}/configuration/update/readme.txt", 100, 1_000)
    files_root = f"{shared}/files"
    uploads = []
    for _ in range(_count(2500, scale)):
        doc = uuid.UUID(int=rng.getrandbits(128), version=4)
        kind = rng.random()
        path = f"{files_root}/{rng.randrange(128)}/{rng.randrange(128)}/{doc}"
        if kind < 0.5:
            uploads.append(binary(path, 1_000, 150_000, 0o640))
        else:
            uploads.append(text(path, 500, 80_000, 0o640))
    os.link(uploads[0], f"{os.path.dirname(uploads[0])}/hardlinked-{os.path.basename(uploads[0])}")
    for _ in range(_count(500, scale)):
        doc = uuid.UUID(int=rng.getrandbits(128), version=4)
        binary(f"{shared}/wikis/{rng.randrange(128)}/{rng.randrange(128)}/{doc}", 1_000, 80_000, 0o640)
    for index in range(_count(300, scale)):
        text(f"{shared}/activities/content/{index // 50}/{index}.dat", 500, 20_000, 0o640)
    text(f"{shared}/activities/statistic/stats.csv", 1_000, 5_000)
    text(f"{shared}/search/dictionary/en.dic", 5_000, 20_000)
    for index in range(_count(50, scale)):
        text(f"{shared}/search/extracted/{index:04d}.txt", 1_000, 30_000)
    text(f"{shared}/search/staging/README", 100, 500)
    for index in range(_count(10, scale)):
        binary(f"{shared}/provision/webresources/com.ibm.lconn.ext{index}.jar", 20_000, 300_000)
    _symlink("../customization", f"{shared}/provision/customization-link")
    text(f"{shared}/profiles/cache/profiles.cache", 1_000, 10_000)
    if ccm:
        ccm_storage = f"{shared}/ccm"
        for index in range(_count(300, scale)):
            doc = uuid.UUID(int=rng.getrandbits(128), version=4)
            binary(f"{ccm_storage}/ccm_objectstore/content/FN{index % 23}/FN{index % 7}/{{{doc}}}", 1_000, 100_000, 0o640)
        _text(f"{ccm_storage}/ccm_objectstore/fn_stores.xml", "<stores/>\n", 0o640)

    # --- local data
    for index in range(_count(100, scale)):
        binary(f"{local}/search/index/seedlist/segment_{index}.cfs", 5_000, 200_000)
    text(f"{local}/news/search/index/segments.gen", 100, 1_000)
    text(f"{local}/catalog/index/segments.gen", 100, 1_000)

    # --- Installation Manager
    cnx_base = connections_version.split("_")[0]
    was_im_version = "9.0.5014.20221118_1312" if was_version == "9.0.5.14" else f"{was_version}.20220101_0000"
    installed_xml = _text(f"{im_data}/installed.xml", _installed_xml([
        {"id": "IBM WebSphere Application Server V9.0", "path": was, "packages": [
            {"id": "com.ibm.websphere.ND.v90", "name": "IBM WebSphere Application Server Network Deployment",
             "version": was_im_version},
            {"id": "com.ibm.java.jdk.v8", "name": "IBM SDK, Java Technology Edition, Version 8",
             "version": "8.0.7020.20221027_0938"},
        ], "fixes": [
            {"id": f"{was_version}-WS-WAS-IFPH49441", "offering": "com.ibm.websphere.ND.v90", "version": "1.0.0"},
        ]},
        {"id": "HCL Connections", "path": cnx, "packages": [
            {"id": "com.ibm.connections", "name": "HCL Connections", "version": connections_version},
        ], "fixes": [
            {"id": f"{cnx_base}-HCL-IC-Multi-IFLO12345", "offering": "com.ibm.connections", "version": "1.0.0"},
        ]},
    ]))
    _text(f"{im_data}/installRegistry.xml", "<?xml version='1.0' encoding='UTF-8'?>\n<installRegistry/>\n")
    for index in range(_count(20, scale)):
        text(f"{im_data}/histories/{index:04d}.xml", 1_000, 20_000)
    text(f"{im_data}/logs/native/2024-03-01.log", 5_000, 50_000)
    for index in range(_count(40, scale)):
        binary(f"{im_install}/eclipse/plugins/com.ibm.cic.agent.core_{index}.jar", 20_000, 300_000)
    _text(f"{im_install}/eclipse/IBMIM", "#!/bin/sh\n", 0o755)
    _text(f"{im_install}/eclipse/tools/imcl", "#!/bin/sh\n", 0o755)
    _text(f"{im_install}/eclipse/configuration/config.ini", f"cic.appDataLocation={im_data}\n")
    _text(f"{root}/etc/.ibm/registry/InstallationManager.dat", f"location={im_install}\nversion=1.9.2\n")
    for index in range(_count(60, scale)):
        binary(f"{im_shared}/plugins/com.ibm.shared_{index}.jar", 20_000, 500_000)
    binary(f"{im_shared}/native/linux64/libcic.so", 50_000, 200_000, 0o755)

    return {
        "root": root,
        "cell": cell,
        "was_root": was,
        "dmgr_profile": dmgr,
        "app_profiles": [app],
        "connections_root": cnx,
        "shared_data": shared,
        "local_data": local,
        "profile_registry": profile_registry,
        "installed_xml": installed_xml,
        "was_product": was_product,
        "im_install": im_install,
        "im_data": im_data,
        "im_shared": im_shared,
        "ccm_storage": ccm_storage,
        "engine_ws_ear": engine_ws_ear,
        "customization": customization,
        "file_registry": f"{dmgr}/config/cells/{cell}/fileRegistry.xml",
        "security_xml": f"{dmgr}/config/cells/{cell}/security.xml",
        "variables_xml": f"{dmgr}/config/cells/{cell}/variables.xml",
        "connections_version": connections_version,
        "was_version": was_version,
    }


# --------------------------------------------------------------------------- benchmark tree


def build_bench_tree(
    root: str,
    *,
    total_bytes: int = 1 << 30,
    files: int = 20000,
    compressible_fraction: float = 0.5,
    seed: int = 7,
) -> Dict[str, int]:
    """``files`` files totalling ~``total_bytes`` (skewed sizes), ~``compressible_fraction`` of them text.

    100 files per directory. Returns {"files", "bytes", "compressible_bytes"}.
    """
    rng = random.Random(seed)
    pool = min(64 << 20, max(1 << 20, total_bytes // 16))
    pools = _Pools(rng, pool, pool // 2)
    weights = [min(rng.paretovariate(1.3), 500.0) for _ in range(files)]
    factor = total_bytes / sum(weights)
    written = compressible = 0
    for index, weight in enumerate(weights):
        size = int(weight * factor)
        directory = os.path.join(root, f"d{index // 10000:02d}", f"{(index // 100) % 100:02d}")
        if index % 100 == 0:
            os.makedirs(directory, exist_ok=True)
        is_text = compressible < compressible_fraction * (written + size)
        data = pools.text_bytes(size) if is_text else pools.random_bytes(size)
        with open(os.path.join(directory, f"f{index:07d}.{'xml' if is_text else 'bin'}"), "wb") as out:
            out.write(data)
        written += size
        compressible += size if is_text else 0
    return {"files": files, "bytes": written, "compressible_bytes": compressible}
