#!/bin/sh
# Mock of <profile>/bin/wsadmin.sh: runs wsadmin Jython scripts in real Jython 2.7.
# Needs CNXMOCK_CELL (fixture JSON); optional CNXMOCK_STATE, CNXMOCK_LOG. See README.md.
MOCK_DIR="$(cd "$(dirname "$0")" && pwd)"
JYTHON_JAR="${CNXMOCK_JYTHON_JAR:-/usr/share/java/jython.jar}"
WAS_JAVA="/opt/IBM/WebSphere/AppServer/java/8.0/bin/java"

# The IBM JVM exports its own command line; scripts parse it to find "-f <path>".
IBM_JAVA_COMMAND_LINE="$WAS_JAVA -Dcom.ibm.CORBA.ConfigURL=file:/opt/IBM/WebSphere/AppServer/profiles/Dmgr01/properties/sas.client.props -Dwas.install.root=/opt/IBM/WebSphere/AppServer -Duser.install.root=/opt/IBM/WebSphere/AppServer/profiles/Dmgr01 -classpath /opt/IBM/WebSphere/AppServer/properties:/opt/IBM/WebSphere/AppServer/lib/startup.jar com.ibm.ws.scripting.WasxShell $*"
export IBM_JAVA_COMMAND_LINE

exec java -XX:TieredStopAtLevel=1 -Xss4m -jar "$JYTHON_JAR" \
  -Dpython.home=/usr -Dpython.executable=/usr/bin/jython \
  "$MOCK_DIR/jy/wsadmin_main.py" "$@"
