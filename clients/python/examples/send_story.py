#!/usr/bin/env python3
"""Send one text story through storycast and print progress, one line per event.

    python3 examples/send_story.py --server localhost:50051 --session demo --recipients 3000

A server with API keys (STORYCAST_API_KEYS) needs one: set STORYCAST_API_KEY (or pass
--api-key); it is sent as `authorization: Bearer <key>` metadata.

Exit codes: 0 all delivered, 2 some recipients failed, 1 the RPC failed.
"""
from __future__ import annotations

import argparse
import os
import sys

# Lets the example run from a checkout without installing the package.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

import grpc  # noqa: E402
from google.rpc import error_details_pb2  # noqa: E402
from grpc_status import rpc_status  # noqa: E402

from storycast.v1 import story_service_pb2 as pb  # noqa: E402
from storycast.v1 import story_service_pb2_grpc as pb_grpc  # noqa: E402


def fake_numbers(n: int) -> list[str]:
    # +1555 numbers are reserved for fiction, so a real send would not reach anyone.
    return [f"+1555{i:07d}" for i in range(n)]


def error_reason(err: grpc.RpcError) -> str:
    """The google.rpc.ErrorInfo reason the server attaches, or '-' when absent."""
    status = rpc_status.from_call(err)
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                return info.reason or "-"
    return "-"


def call_metadata(api_key: str) -> list[tuple[str, str]]:
    """The metadata every call carries: the API key, when there is one."""
    return [("authorization", f"Bearer {api_key}")] if api_key else []


def send(stub: pb_grpc.StoryServiceStub, request: pb.SendStoryRequest, api_key: str = "") -> int:
    failed = None
    for event in stub.SendStory(request, metadata=call_metadata(api_key)):
        kind = event.WhichOneof("event")
        if kind == "planned":
            p = event.planned
            print(f"planned total={p.total_recipients} invalid={len(p.invalid_recipients)} "
                  f"strategy={p.strategy}", flush=True)
        elif kind == "batch":
            b = event.batch
            print(f"batch {b.index} size={b.size} ok={str(b.ok).lower()} "
                  f"duration_ms={b.duration_ms} next={b.next_batch_size} reason={b.reason}",
                  flush=True)
        elif kind == "summary":
            s = event.summary
            failed = len(s.failed)
            print(f"summary delivered={s.delivered} total={s.total} failed={failed} "
                  f"batches={s.batches} message_id={s.message_id}", flush=True)
    # A stream that ends without a summary did not account for everyone: treat as failed.
    return 0 if failed == 0 else 2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default="localhost:50051", help="HOST:PORT")
    ap.add_argument("--session", required=True, help="session id to send from")
    ap.add_argument("--recipients", type=int, default=0, help="N fake +1555 numbers")
    ap.add_argument("--recipient", action="append", default=[], help="explicit recipient (repeatable)")
    ap.add_argument("--strategy", default="", help="strategy name; empty = server default")
    ap.add_argument("--text", default="Hello from storycast", help="story text")
    ap.add_argument("--api-key", default=os.environ.get("STORYCAST_API_KEY", ""),
                    help="API key, when the server needs one (default: $STORYCAST_API_KEY, "
                         "which is better: other users can see a command line)")
    args = ap.parse_args(argv)

    request = pb.SendStoryRequest(
        session_id=args.session,
        story=pb.Story(text=pb.TextStory(text=args.text)),
        recipients=args.recipient + fake_numbers(args.recipients),
        strategy=args.strategy,
    )
    with grpc.insecure_channel(args.server) as channel:
        try:
            return send(pb_grpc.StoryServiceStub(channel), request, args.api_key)
        except grpc.RpcError as err:
            print(f"error code={err.code().name} reason={error_reason(err)} "
                  f"message={err.details()}", flush=True)
            return 1


if __name__ == "__main__":
    sys.exit(main())
