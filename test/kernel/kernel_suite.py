"""Debian's jupyter_kernel_test suite against the GRPO TypeScript kernel.

Run by test/kernel/protocol.test.ts with /usr/bin/python3 and JUPYTER_PATH pointing at the
project-local kernelspec (kernel name "grpo-typescript"): `python3 kernel_suite.py -v`.
"""
import json
import unittest

import jupyter_kernel_test
from jupyter_kernel_test import TIMEOUT
from jupyter_kernel_test.msgspec_v5 import validate_message
from jupyter_client.utils import run_sync


class GrpoTypeScriptKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "grpo-typescript"
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("something went wrong")'

    completion_samples = [
        {"text": "const helloCompletion = 1;\nhelloCompl", "matches": {"helloCompletion"}},
        {"text": "[1, 2].forE", "matches": {"forEach"}},
    ]

    complete_code_samples = ["1 + 2", "const x = 1;", "function f() {\n  return 1;\n}"]
    incomplete_code_samples = ["function f() {", "const a = [1,", "if (true) {\n  console.log(1);"]

    code_generate_error = 'throw new Error("intentional")'

    code_execute_result = [
        {"code": "1 + 2", "result": "3"},
        {"code": "'a' + 'b'", "result": "'ab'"},
        {"code": "[1, 2].map((x) => x * 2)", "result": "[ 2, 4 ]"},
        # The opt-in display protocol: the execute_result carries the object's own bundle.
        {
            "code": '({ [Symbol.for("grpo.mimeBundle")]: () => ({ "text/html": "<b>opt-in</b>", "text/plain": "opt-in" }) })',
            "mime": "text/html",
            "result": "<b>opt-in</b>",
        },
    ]

    code_display_data = [
        {
            "code": 'import { display } from "grpo-agent-framework/kernel";\n'
            'display({ [Symbol.for("grpo.mimeBundle")]: () => ({ "text/html": "<i>shown</i>" }) });',
            "mime": "text/html",
        },
        {"code": 'import * as tslab from "tslab";\ntslab.display.html("<u>tslab</u>");', "mime": "text/html"},
    ]

    code_inspect_sample = "Math.max"

    code_clear_output = 'import { clearOutput } from "grpo-agent-framework/kernel";\nclearOutput();'

    supported_history_operations = ("tail", "range", "search")
    code_history_pattern = "1 + 2"

    # Beyond the stock suite: what this kernel promises on top (issue #7).

    def run_cell(self, code):
        self.flush_channels()
        return self.execute_helper(code=code, timeout=60)

    def error_of(self, output_msgs):
        errors = [m["content"] for m in output_msgs if m["msg_type"] == "error"]
        self.assertEqual(len(errors), 1, output_msgs)
        return errors[0]

    def test_runtime_error_traceback_points_at_the_cell_line(self):
        reply, output_msgs = self.run_cell(
            "function explode(n: number) {\n  // a comment line\n\n  throw new RangeError('too big: ' + n);\n}\nconst ok = 1;\nexplode(41 + ok);"
        )
        self.assertEqual(reply["content"]["status"], "error")
        error = self.error_of(output_msgs)
        self.assertEqual(error["ename"], "RangeError")
        self.assertEqual(error["evalue"], "too big: 42")
        self.assertEqual(reply["content"]["ename"], "RangeError")
        count = reply["content"]["execution_count"]
        text = "\n".join(error["traceback"])
        self.assertIn(f"at explode (Cell [{count}], line 4)", text)
        self.assertIn("throw new RangeError('too big: ' + n);", text)
        self.assertIn(f"Cell [{count}], line 7", text)

    def test_async_error_traceback_points_at_the_cell_line(self):
        reply, output_msgs = self.run_cell("await new Promise((r) => setTimeout(r, 10));\nconst o: any = undefined;\no.missing;")
        error = self.error_of(output_msgs)
        self.assertEqual(error["ename"], "TypeError")
        self.assertIn(f"Cell [{reply['content']['execution_count']}], line 3", "\n".join(error["traceback"]))

    def test_type_error_names_the_cell_line_and_column(self):
        reply, output_msgs = self.run_cell("const fine = 1;\nconst wrong: string = fine;")
        error = self.error_of(output_msgs)
        self.assertEqual(error["ename"], "TypeScriptError")
        self.assertIn("TS2322", error["evalue"])
        self.assertIn(f"Cell [{reply['content']['execution_count']}], line 2, column 7: TS2322", "\n".join(error["traceback"]))

    def test_a_request_right_after_an_error_runs(self):
        self.flush_channels()
        failing = self.kc.execute("throw new Error('first')")
        following = self.kc.execute("'second ran'")  # queued before the first failed, but stop_on_error=False below
        replies = {}
        while len(replies) < 2:
            reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
            replies[reply["parent_header"]["msg_id"]] = reply
        self.assertEqual(replies[failing]["content"]["status"], "error")
        # stop_on_error (the default) aborts what was already queued, like IPython's "run all".
        self.assertEqual(replies[following]["content"]["status"], "aborted")
        # A request sent after the error reply always runs, at once (no grace period that drops it).
        self.flush_channels()
        self.kc.execute("throw new Error('again')")
        self.get_non_kernel_info_reply(timeout=TIMEOUT)
        self.flush_channels()
        reply, output_msgs = self.execute_helper("'runs'")
        self.assertEqual(reply["content"]["status"], "ok")
        results = [m for m in output_msgs if m["msg_type"] == "execute_result"]
        self.assertEqual(results[0]["content"]["data"]["text/plain"], "'runs'")
        failing = self.kc.execute("throw new Error('x')", stop_on_error=False)
        following = self.kc.execute("'also runs'")
        statuses = {}
        while len(statuses) < 2:
            reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
            statuses[reply["parent_header"]["msg_id"]] = reply["content"]["status"]
        self.assertEqual(statuses, {failing: "error", following: "ok"})

    def test_execution_counts_increase_and_silent_cells_do_not_count(self):
        first, _ = self.run_cell("1")
        silent_id = self.kc.execute("2", silent=True)
        silent = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        self.assertEqual(silent["parent_header"]["msg_id"], silent_id)
        second, outputs = self.run_cell("3")
        self.assertEqual(second["content"]["execution_count"], first["content"]["execution_count"] + 1)
        result = [m for m in outputs if m["msg_type"] == "execute_result"][0]
        self.assertEqual(result["content"]["execution_count"], second["content"]["execution_count"])

    def test_library_object_as_last_value_gets_the_display_bundle(self):
        reply, outputs = self.run_cell(
            'import { ConversationTurn } from "grpo-agent-framework";\n'
            'import { mimeBundle } from "grpo-agent-framework/kernel";\n'
            'const turn = new ConversationTurn({ role: "user", content: "Hello there" });\n'
            "turn"
        )
        self.assertEqual(reply["content"]["status"], "ok")
        result = [m for m in outputs if m["msg_type"] == "execute_result"][0]["content"]["data"]
        self.assertIn('class="grpo-turn"', result["text/html"])
        self.assertIn("Hello there", result["text/plain"])
        # The same bundle display(x) sends.
        reply, outputs = self.run_cell("console.log(JSON.stringify(mimeBundle(turn)))")
        printed = "".join(m["content"]["text"] for m in outputs if m["msg_type"] == "stream")
        self.assertEqual(json.loads(printed), result)

    def test_input_request_on_stdin(self):
        self.flush_channels()
        code = 'import { input } from "grpo-agent-framework/kernel";\nconst answer = await input("Your name: ");\n"hello " + answer'
        msg_id = self.kc.execute(code, allow_stdin=True)
        request = self.kc.get_stdin_msg(timeout=60)
        # (msgspec_v5 types `password` as a number; the messaging spec, ipykernel and we send a boolean.)
        self.assertEqual(request["header"]["msg_type"], "input_request")
        self.assertEqual(request["parent_header"]["msg_id"], msg_id)
        self.assertEqual(request["content"], {"prompt": "Your name: ", "password": False})
        self.kc.input("Ada")
        reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        self.assertEqual(reply["content"]["status"], "ok")
        results = []
        while not results:
            msg = run_sync(self.kc.iopub_channel.get_msg)(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_result":
                results.append(msg["content"]["data"]["text/plain"])
        self.assertEqual(results, ["'hello Ada'"])
        # A frontend that does not allow stdin gets an error, not a hang.
        self.flush_channels()
        msg_id = self.kc.execute("await input('never answered')", allow_stdin=False)
        reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertEqual(reply["content"]["ename"], "GrpoError")
        self.assertIn("This frontend does not accept input requests.", reply["content"]["evalue"])

    def test_errors_of_background_work_do_not_end_the_kernel(self):
        reply, _ = self.run_cell("Promise.reject(new Error('nobody awaits me'));\nsetTimeout(() => { throw new Error('thrown later'); }, 10);\n1")
        self.assertEqual(reply["content"]["status"], "ok")
        reply, outputs = self.run_cell("await new Promise((r) => setTimeout(r, 100));\n'still alive'")
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual([m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"], ["'still alive'"])

    def test_comm_info_and_interrupt_replies(self):
        msg = self.kc.session.msg("comm_info_request", {})
        self.kc.shell_channel.send(msg)
        reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        validate_message(reply, "comm_info_reply", msg["header"]["msg_id"])
        self.assertEqual(reply["content"]["comms"], {})
        msg = self.kc.session.msg("interrupt_request", {})
        self.kc.control_channel.send(msg)
        reply = run_sync(self.kc.control_channel.get_msg)(timeout=TIMEOUT)
        validate_message(reply, "interrupt_reply", msg["header"]["msg_id"])
        # The kernel still works after an interrupt with nothing running.
        reply, _ = self.run_cell("1")
        self.assertEqual(reply["content"]["status"], "ok")


if __name__ == "__main__":
    unittest.main()
