"""The mongosh expressions the Component Pack restore evaluates (``mongosh --eval``).

A leaf module with no imports of its own: the demo's fake ``kubectl`` is a new process on every
call and must receive exactly these expressions, so it imports them from here rather than through
``componentpack`` (whose package pulls in the configuration, the transports and the archive code,
a tenth of a second on every fake call).
"""

FCV_JS = "db.adminCommand({getParameter: 1, featureCompatibilityVersion: 1}).featureCompatibilityVersion.version"
"""The featureCompatibilityVersion of the cluster."""

COUNTS_JS = ("Object.fromEntries(db.adminCommand({listDatabases: 1}).databases.map(d => [d.name, Object.fromEntries("
             "db.getSiblingDB(d.name).getCollectionNames().map(c => [c, db.getSiblingDB(d.name)"
             ".getCollection(c).countDocuments({})]))]))")
"""Every collection's document count, by database."""

PRIMARY_JS = 'rs.status().members.find(m => m.stateStr == "PRIMARY").name.split(".")[0]'
"""The pod of the member ``rs.status()`` names PRIMARY, printed as it is (RESTORE.md assigns it to a shell
variable; with no primary, ``find`` gives undefined and mongosh fails on ``.name``)."""
