"""Kernel interrupts at the protocol level, through jupyter_client (run with Debian's /usr/bin/python3).

Starts the GRPO TypeScript kernel (found through JUPYTER_PATH), builds a trainer on the tiny demo
model (no live plot, no stop() call: only the kernel's ambient AbortSignal can stop it), and twice
runs `await trainer.run({ steps: 1000 })`, interrupting it about 2 s in: first with SIGINT (the
kernelspec's interrupt_mode "signal", what Jupyter's interrupt button does), then with an
interrupt_request on the control channel. For each it records the step printed last before the
interrupt (from the kernel's own step-end times: its stdout reaches the client late, sometimes a
step or two after the kernel printed it), the reply, any message of that cell after its idle status, the trainer's step count at
once and 1.5 s later, and whether the next cell's `trainer.step()` works. Prints one JSON summary on
the last line of stdout for test/kernel/protocol.test.ts.
"""
import json
import sys
import time
from queue import Empty

from demo_trainer import TRAINER_SETUP, with_kernel

SETUP = TRAINER_SETUP + """
trainer.callbacks.push({ onStepEnd: (e) => console.log("step " + e.step + " " + Date.now()) });
"""


def wait_reply(kc, msg_id, timeout):
    deadline = time.time() + timeout
    while True:
        reply = kc.get_shell_msg(timeout=max(1, deadline - time.time()))
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def execute(kc, code, timeout=180):
    """Runs `code`; returns (stdout text, reply content)."""
    msg_id = kc.execute(code)
    out = []
    deadline = time.time() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(1, deadline - time.time()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    return "".join(out), wait_reply(kc, msg_id, timeout)["content"]


def step_count(kc):
    text, _ = execute(kc, "console.log(JSON.stringify({ at: trainer.stepCount }));")
    return json.loads(text.strip().splitlines()[-1])["at"]


def interrupted_run(km, kc, via):
    msg_id = kc.execute("await trainer.run({ steps: 1000 });")
    started = None
    steps = []  # (step, the kernel's Date.now() at its end): same machine, same clock as time.time()
    sent_at = None
    idle = False
    while not idle:
        try:
            msg = kc.get_iopub_msg(timeout=0.05)
        except Empty:
            msg = None
        now = time.time()
        if msg is not None and msg["parent_header"].get("msg_id") == msg_id:
            kind = msg["msg_type"]
            if kind == "status" and msg["content"]["execution_state"] == "busy":
                started = now
            elif kind == "stream" and msg["content"]["name"] == "stdout":
                steps += [(int(line.split()[1]), int(line.split()[2])) for line in msg["content"]["text"].splitlines() if line.startswith("step ")]
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
        if sent_at is None and started is not None and now - started >= 2 and steps:
            sent_at = time.time()
            if via == "signal":
                km.interrupt_kernel()
            else:
                kc.control_channel.send(kc.session.msg("interrupt_request", {}))
        if started is not None and now - started > 150:
            raise RuntimeError("the run was not interrupted")
    reply = wait_reply(kc, msg_id, 60)["content"]
    replied_at = time.time()
    # The steps the kernel had finished when the interrupt was sent (their lines may have arrived later).
    step_at_interrupt = max([step for step, ended_ms in steps if ended_ms <= sent_at * 1000], default=0)
    # Anything of that cell after its idle status (output of work running on) would show up here.
    after = 0
    until = time.time() + 2
    while time.time() < until:
        try:
            msg = kc.get_iopub_msg(timeout=0.1)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            after += 1
    stopped_at = step_count(kc)
    time.sleep(1.5)
    still_at = step_count(kc)
    text, step_reply = execute(kc, "await trainer.step();\nconsole.log(JSON.stringify({ at: trainer.stepCount }));")
    stepped = json.loads(text.strip().splitlines()[-1])["at"] if step_reply["status"] == "ok" else None
    return {
        "via": via,
        "status": reply["status"],
        "ename": reply.get("ename"),
        "stepsBefore": len(steps),
        "stepAtInterrupt": step_at_interrupt,
        "secondsToReply": replied_at - sent_at,
        "messagesAfterIdle": after,
        "stoppedAt": stopped_at,
        "stillAt": still_at,
        "stepStatus": step_reply["status"],
        "steppedTo": stepped,
    }


def script(km, kc):
    _, reply = execute(kc, SETUP)
    setup = {"status": reply["status"], "error": reply.get("evalue")}
    return {"setup": setup, "runs": [interrupted_run(km, kc, "signal"), interrupted_run(km, kc, "message")]}


if __name__ == "__main__":
    sys.exit(with_kernel(script))
