"""Protocol-level check of the live plot and of kernel interrupts, through jupyter_client.

Starts the project's GRPO TypeScript kernel (found through JUPYTER_PATH), trains a tiny model with a live plot
and records the iopub messages of each cell. Then starts a long run, interrupts the kernel once the
plot has updated, waits for the trainer to stop, and steps it again. Prints one JSON summary on the
last line of stdout for the vitest test to check. Run with Debian's /usr/bin/python3.
"""
import json
import sys
import time

from demo_trainer import TRAINER_SETUP, with_kernel

SETUP = TRAINER_SETUP + """
import { liveplot } from "grpo-agent-framework/kernel";
const live = liveplot({ trainer: trainer, minIntervalMs: 0, maxOverhead: 1 }); // every step, however fast steps run: this checks messages, not the throttle
trainer.callbacks.push(live);
"""


def execute(kc, code, timeout=180, on_message=None):
    """Runs `code`; returns (iopub messages of this execution, execute_reply content)."""
    msg_id = kc.execute(code)
    messages = []
    deadline = time.time() + timeout
    idle = False
    while not idle:
        msg = kc.get_iopub_msg(timeout=max(1, deadline - time.time()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if on_message:
            on_message(msg)
        idle = msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
    reply = kc.get_shell_msg(timeout=max(1, deadline - time.time()))
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=max(1, deadline - time.time()))
    return messages, reply["content"]


def displays(messages):
    return [
        {"type": m["msg_type"], "id": m["content"].get("transient", {}).get("display_id"), "mimes": sorted(m["content"]["data"].keys())}
        for m in messages
        if m["msg_type"] in ("display_data", "update_display_data")
    ]


def stdout_of(messages):
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")


def stderr_of(messages):
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")


def last_json(messages):
    """The JSON object a cell printed last, or what it printed instead (so a failure is readable)."""
    lines = stdout_of(messages).strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"unexpectedStdout": stdout_of(messages), "unexpectedStderr": stderr_of(messages)}


def script(km, kc):
    summary = {}
    messages, reply = execute(kc, SETUP)
    summary["setup"] = {"status": reply["status"], "stderr": stderr_of(messages)}

    started = time.time()
    messages, reply = execute(kc, "await trainer.run({ steps: 6 });")
    summary["run"] = {"status": reply["status"], "displays": displays(messages), "seconds": time.time() - started, "stderr": stderr_of(messages)}

    messages, reply = execute(kc, "console.log(JSON.stringify(live.stats()));")
    summary["stats"] = last_json(messages)

    # A long run, interrupted once the live plot has updated at least twice.
    updates = []

    def watch(msg):
        if msg["msg_type"] == "update_display_data":
            updates.append(time.time())
            if len(updates) == 2:
                km.interrupt_kernel()

    messages, reply = execute(kc, "await trainer.run({ steps: 500 });", on_message=watch)
    summary["interrupted"] = {"status": reply["status"], "ename": reply.get("ename"), "updates_before_reply": len(updates), "stderr": stderr_of(messages)[:500]}

    messages, reply = execute(kc, "const reason = await live.idle();\nconsole.log(JSON.stringify({ reason: reason, stoppedAt: trainer.stepCount }));")
    summary["after"] = {"status": reply["status"], "stderr": stderr_of(messages), **last_json(messages)}

    messages, reply = execute(kc, "await trainer.step();\nconsole.log(JSON.stringify({ after: trainer.stepCount }));")
    summary["after"].update({"stepStatus": reply["status"], "stepStderr": stderr_of(messages), **last_json(messages)})
    return summary


if __name__ == "__main__":
    sys.exit(with_kernel(script))
