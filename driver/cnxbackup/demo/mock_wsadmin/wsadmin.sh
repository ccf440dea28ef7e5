#!/bin/sh
# Mock of <profile>/bin/wsadmin.sh: runs wsadmin Jython scripts in real Jython 2.7.
# Needs CNXMOCK_CELL (fixture JSON); optional CNXMOCK_STATE, CNXMOCK_LOG. See README.md.
MOCK_DIR="$(cd "$(dirname "$0")" && pwd)"
JYTHON_JAR="${CNXMOCK_JYTHON_JAR:-/usr/share/java/jython.jar}"
WAS_JAVA="/opt/IBM/WebSphere/AppServer/java/8.0/bin/java"

# The IBM JVM exports its own command line; scripts parse it to find "-f <path>".
IBM_JAVA_COMMAND_LINE="$WAS_JAVA -Dcom.ibm.CORBA.ConfigURL=file:/opt/IBM/WebSphere/AppServer/profiles/Dmgr01/properties/sas.client.props -Dwas.install.root=/opt/IBM/WebSphere/AppServer -Duser.install.root=/opt/IBM/WebSphere/AppServer/profiles/Dmgr01 -classpath /opt/IBM/WebSphere/AppServer/properties:/opt/IBM/WebSphere/AppServer/lib/startup.jar com.ibm.ws.scripting.WasxShell $*"
export IBM_JAVA_COMMAND_LINE

# Start-up speed only (the mock's behaviour is the same without it): a class-data-sharing archive of
# Jython's classes halves the JVM's start. It is a cache outside the repository, keyed by the JVM and
# the jar, made once in the background by the first launch that finds none (written aside, then
# renamed, so no launch ever maps half a file); CNXMOCK_CDS=off leaves it out.
CDS_OPTS=""
if [ "${CNXMOCK_CDS:-on}" != off ] && [ -r "$JYTHON_JAR" ]; then
  CDS_DIR="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/cnxbackup-mock"
  JAVA_BIN="$(readlink -f "$(command -v java)")"
  CDS_FILE="$CDS_DIR/jython-$(stat -c %s-%Y "$JYTHON_JAR")-java-$(stat -c %s-%Y "$JAVA_BIN").jsa"
  if [ -f "$CDS_FILE" ]; then
    CDS_OPTS="-XX:SharedArchiveFile=$CDS_FILE -Xshare:auto -Xlog:disable"
  elif mkdir -p "$CDS_DIR" 2>/dev/null; then
    TMP_CDS="$CDS_FILE.$$.tmp"
    ( java -XX:TieredStopAtLevel=1 -XX:ArchiveClassesAtExit="$TMP_CDS" -Xlog:disable -jar "$JYTHON_JAR" \
        -Dpython.home=/usr -c "import os, sys, re, json, time, traceback" >/dev/null 2>&1 </dev/null \
        && mv -f "$TMP_CDS" "$CDS_FILE"; rm -f "$TMP_CDS" ) >/dev/null 2>&1 </dev/null &
  fi
fi

exec java $CDS_OPTS -XX:TieredStopAtLevel=1 -Xss4m -jar "$JYTHON_JAR" \
  -Dpython.home=/usr -Dpython.executable=/usr/bin/jython \
  "$MOCK_DIR/jy/wsadmin_main.py" "$@"
