"""Tests the example against an in-process fake StoryService, so they run without
the Node server: output format, ErrorInfo unpacking and exit codes."""
from __future__ import annotations

import contextlib
import io
import os
import sys
import unittest
from concurrent import futures
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))

import grpc  # noqa: E402
from google.protobuf import any_pb2  # noqa: E402
from google.rpc import code_pb2, error_details_pb2, status_pb2  # noqa: E402
from grpc_status import rpc_status  # noqa: E402

import send_story  # noqa: E402
from storycast.v1 import story_service_pb2 as pb  # noqa: E402
from storycast.v1 import story_service_pb2_grpc as pb_grpc  # noqa: E402


class FakeStoryService(pb_grpc.StoryServiceServicer):
    def SendStory(self, request, context):
        if request.session_id == "needs-key":
            metadata = dict(context.invocation_metadata())
            if metadata.get("authorization") != "Bearer sk-test":
                detail = any_pb2.Any()
                detail.Pack(error_details_pb2.ErrorInfo(reason="API_KEY_MISSING", domain="storycast"))
                context.abort_with_status(rpc_status.to_status(status_pb2.Status(
                    code=code_pb2.UNAUTHENTICATED, message="no key", details=[detail])))
        if not request.recipients:
            detail = any_pb2.Any()
            detail.Pack(error_details_pb2.ErrorInfo(reason="NO_VALID_RECIPIENTS", domain="storycast"))
            context.abort_with_status(rpc_status.to_status(status_pb2.Status(
                code=code_pb2.INVALID_ARGUMENT, message="no valid recipient", details=[detail])))
        n = len(request.recipients)
        fail_one = request.strategy == "lossy"
        yield pb.SendStoryResponse(planned=pb.SendPlanned(total_recipients=n, strategy=request.strategy or "adaptive"))
        yield pb.SendStoryResponse(anchor=pb.AnchorSent(message_id="MID", recipients=1))
        yield pb.SendStoryResponse(batch=pb.BatchSent(index=0, size=n - 1, ok=True, duration_ms=12, reason="all recipients sent"))
        failed = [pb.FailedRecipient(recipient=request.recipients[-1], code="TIMEOUT")] if fail_one else []
        yield pb.SendStoryResponse(summary=pb.SendSummary(
            message_id="MID", total=n, delivered=n - len(failed), failed=failed, batches=1))


class SendStoryExampleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        pb_grpc.add_StoryServiceServicer_to_server(FakeStoryService(), cls.server)
        cls.addr = f"127.0.0.1:{cls.server.add_insecure_port('127.0.0.1:0')}"
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop(None)

    def run_example(self, *args: str, session: str = "s") -> tuple[int, list[str]]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = send_story.main(["--server", self.addr, "--session", session, *args])
        return rc, out.getvalue().splitlines()

    def test_success_lines_and_exit_0(self):
        rc, lines = self.run_example("--recipients", "5")
        self.assertEqual(rc, 0)
        self.assertEqual(lines, [
            "planned total=5 invalid=0 strategy=adaptive",
            "batch 0 size=4 ok=true duration_ms=12 next=0 reason=all recipients sent",
            "summary delivered=5 total=5 failed=0 batches=1 message_id=MID",
        ])

    def test_failed_recipients_exit_2(self):
        rc, lines = self.run_example("--recipients", "3", "--strategy", "lossy")
        self.assertEqual(rc, 2)
        self.assertEqual(lines[-1], "summary delivered=2 total=3 failed=1 batches=1 message_id=MID")

    def test_rpc_error_prints_error_info_reason(self):
        rc, lines = self.run_example()
        self.assertEqual(rc, 1)
        self.assertEqual(lines, ["error code=INVALID_ARGUMENT reason=NO_VALID_RECIPIENTS message=no valid recipient"])

    def test_api_key_is_sent_as_bearer_metadata(self):
        with mock.patch.dict(os.environ, {"STORYCAST_API_KEY": ""}):
            rc, lines = self.run_example("--recipients", "2", "--api-key", "sk-test", session="needs-key")
            self.assertEqual(rc, 0, lines)
            rc, lines = self.run_example("--recipients", "2", session="needs-key")
        self.assertEqual(rc, 1)
        self.assertEqual(lines, ["error code=UNAUTHENTICATED reason=API_KEY_MISSING message=no key"])
        with mock.patch.dict(os.environ, {"STORYCAST_API_KEY": "sk-test"}):
            rc, lines = self.run_example("--recipients", "2", session="needs-key")
        self.assertEqual(rc, 0, lines)

    def test_fake_numbers_are_unique_and_in_555(self):
        nums = send_story.fake_numbers(3000)
        self.assertEqual(len(set(nums)), 3000)
        self.assertTrue(all(n.startswith("+1555") and len(n) == 12 for n in nums))


if __name__ == "__main__":
    unittest.main()
