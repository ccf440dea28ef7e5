#!/usr/bin/env python3
"""Mock of WebSphere's profile scripts (demo and tests only), on the mock cell's shared state.

``profile_tool.py SCRIPT PROFILE_DIR [ARGS...]`` where SCRIPT is startManager, stopManager,
startNode, stopNode, syncNode or serverStatus; the demo tree's ``<profile>/bin/*.sh`` wrappers
call it. Messages follow WebSphere's (README.md, "Profile scripts", for sources and what is
unconfirmed). The Dmgr is the cell's ``dmgrRunning``; a profile's node agent is the node the
profile hosts (assigned in order on first use and kept in the state as ``profileNodes``).
Credentials, when security is on and none are given, are asked on the console
(``Realm/Cell Name: <default>``, ``Username:``, ``Password:``); every call is logged with its
argv (a password there would show) and the states of all processes.
"""
from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from cnxbackup.demo import mockcell  # noqa: E402

ENV_KEYS = ("CNXMOCK_CELL", "CNXMOCK_STATE", "CNXMOCK_LOG")
PROCESS_ID = 4242


def out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def node_agents(state: dict) -> list:
    return [s for s in state["servers"] if s.get("type") == "NODE_AGENT"]


def node_of(state: dict, profile: str) -> str:
    """The node a (non-Dmgr) profile hosts: kept in the state, the next free node on first use."""
    assigned = state.setdefault("profileNodes", {})
    if profile not in assigned:
        free = [s["node"] for s in node_agents(state) if s["node"] not in assigned.values()]
        assigned[profile] = free[0] if free else node_agents(state)[0]["node"]
    return assigned[profile]


def agent_running(state: dict, node: str) -> bool:
    action = state["runtime"]["servers"].get(f"{node}/nodeagent")
    if action:
        return action.get("action") == "start"
    agent: dict = next((s for s in node_agents(state) if s["node"] == node), {})
    return bool(agent.get("running", 1))


def set_agent(state: dict, node: str, running: bool) -> None:
    state["runtime"]["servers"][f"{node}/nodeagent"] = {"action": "start" if running else "stop", "at": time.time(),
                                                         "terminate": not running}


def states(state: dict) -> dict:
    found = {"dmgr": "STARTED" if state.get("dmgrRunning", 1) else "STOPPED"}
    for agent in node_agents(state):
        found[f"{agent['node']}/nodeagent"] = "STARTED" if agent_running(state, agent["node"]) else "STOPPED"
    return found


def log(env: dict, script: str, profile: str, argv: list, rc: int, state: dict) -> None:
    record = {"event": "profile", "script": script, "profile": profile, "argv": argv, "rc": rc,
              "time": time.time(), "states": states(state)}
    with open(env["CNXMOCK_LOG"], "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def credentials(args: list, state: dict) -> bool:
    """-username/-password on the command line (accepted, and logged), else the console prompt."""
    if not state.get("securityEnabled", 1):
        return True
    user = args[args.index("-username") + 1] if "-username" in args else None
    password = args[args.index("-password") + 1] if "-password" in args else None
    if user is None or password is None:
        if os.environ.get("DISPLAY"):
            out("ADMU0015E: a graphical login prompt would appear here (DISPLAY is set); not in this mock")
            return False
        sys.stdout.write("Realm/Cell Name: <default> ")
        sys.stdout.flush()
        sys.stdin.readline()
        sys.stdout.write("Username: ")
        sys.stdout.flush()
        user = sys.stdin.readline().rstrip("\r\n")
        sys.stdout.write("Password: ")
        sys.stdout.flush()
        password = sys.stdin.readline().rstrip("\r\n")
        out("")
    return user == state.get("adminUser") and password == state.get("adminPassword")


def preamble(profile: str, server: str, log_name: str) -> None:
    out(f"ADMU0116I: Tool information is being logged in file {profile}/logs/{server}/{log_name}")
    out(f"ADMU0128I: Starting tool with the {os.path.basename(profile)} profile")
    out(f"ADMU3100I: Reading configuration for server: {server}")


def run(script: str, profile: str, args: list, state: dict) -> int:
    """One script against the state (changed in place); its exit status."""
    dmgr = script in ("startManager", "stopManager") or (script == "serverStatus" and args[:1] == ["dmgr"])
    node = "" if dmgr else node_of(state, profile)
    if script == "startManager":
        if state.get("dmgrRunning", 1):
            out("ADMU3027E: An instance of the server may already be running: dmgr")  # UNCONFIRMED text and rc
            return 255
        preamble(profile, "dmgr", "startServer.log")
        out("ADMU3200I: Server launched. Waiting for initialization status.")
        state["dmgrRunning"] = True
        out(f"ADMU3000I: Server dmgr open for e-business; process id is {PROCESS_ID}")
        return 0
    if script == "startNode":
        if agent_running(state, node):
            out("ADMU3027E: An instance of the server may already be running: nodeagent")
            return 255
        preamble(profile, "nodeagent", "startServer.log")
        out("ADMU3200I: Server launched. Waiting for initialization status.")
        set_agent(state, node, True)
        out(f"ADMU3000I: Server nodeagent open for e-business; process id is {PROCESS_ID + 1}")
        return 0
    if script in ("stopManager", "stopNode", "syncNode", "serverStatus"):
        server = "dmgr" if dmgr else "nodeagent"
        kind = "Deployment Manager" if dmgr else "Node Agent"
        running = state.get("dmgrRunning", 1) if dmgr else agent_running(state, node)
        if script == "serverStatus":
            preamble(profile, server, "serverStatus.log")
            if running and not credentials(args, state):
                out("ADMU0006E: Exception creating Deployment Manager connection: AuthenticationFailed")  # UNCONFIRMED
                return 255
            out(f'ADMU0508I: The {kind} "{server}" is STARTED' if running
                else f'ADMU0509I: The {kind} "{server}" cannot be reached. It appears to be stopped.')
            return 0
        if script == "syncNode":
            host, port = (args + ["", ""])[:2]
            preamble(profile, "nodeagent", "syncNode.log")
            if running:
                out("ADMU0505E: Servers found running:")  # UNCONFIRMED number and text
                out("ADMU2001I: nodeagent")
                return 255
            if not state.get("dmgrRunning", 1):
                out(f"ADMU0009E: Could not connect to the Deployment Manager on {host}:{port}")  # UNCONFIRMED
                return 255
            if not credentials(args, state):
                out("ADMU0006E: Exception creating Deployment Manager connection: AuthenticationFailed")
                return 255
            out(f"ADMU0401I: Begin syncNode operation for node {node} with Deployment Manager {host}: {port}")
            state.setdefault("syncs", []).append({"node": node, "time": time.time()})
            out(f"ADMU0402I: The configuration for node {node} has been synchronized with Deployment Manager "
                f"{host}: {port}")
            return 0
        # stopManager / stopNode
        preamble(profile, server, "stopServer.log")
        if not running:
            out(f"ADMU0509I: The {kind} \"{server}\" cannot be reached. It appears to be stopped.")
            return 255  # UNCONFIRMED rc
        if not credentials(args, state):
            out("ADMU0006E: Exception creating Deployment Manager connection: AuthenticationFailed")
            return 255
        out("ADMU3201I: Server stop request issued. Waiting for stop status.")
        if dmgr:
            state["dmgrRunning"] = False
        else:
            set_agent(state, node, False)
        out(f"ADMU4000I: Server {server} stop completed.")
        return 0
    out(f"profile_tool: unknown script {script}")
    return 2


def main(argv: list) -> int:
    env = {key: os.environ[key] for key in ENV_KEYS if key in os.environ}
    if len(env) != len(ENV_KEYS) or len(argv) < 2:
        sys.stderr.write("profile_tool: needs SCRIPT PROFILE and the mock cell's CNXMOCK_* variables\n")
        return 2
    script, profile, args = argv[0], argv[1], argv[2:]
    with mockcell._locked(env):  # one read-change-write under the lock the Jython side takes too
        path = env["CNXMOCK_STATE"] if os.path.exists(env["CNXMOCK_STATE"]) else env["CNXMOCK_CELL"]
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
        state.setdefault("runtime", {"servers": {}, "clusters": {}})
        rc = run(script, profile, args, state)
        temporary = env["CNXMOCK_STATE"] + f".tmp.{os.getpid()}"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(state, handle, indent=1, sort_keys=True)
        os.replace(temporary, env["CNXMOCK_STATE"])
    log(env, script, profile, [f"{profile}/bin/{script}.sh", *args], rc, state)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
